/**
 * Studies grouped by runs folder, then by notebook, for the sidebar.
 */
import type { IStudy } from './types';

export interface INotebookGroup {
  /** The notebook's path, or null for studies run from no notebook (a script, the CLI). */
  notebook: string | null;
  studies: IStudy[];
}

export interface IFolderGroup {
  folder: string;
  notebooks: INotebookGroup[];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Folders and notebooks sorted by path (studies of no notebook last), studies by name. */
export function groupStudies(studies: readonly IStudy[]): IFolderGroup[] {
  const folders = new Map<string, Map<string | null, IStudy[]>>();
  for (const study of studies) {
    let notebooks = folders.get(study.folder);
    if (!notebooks) {
      notebooks = new Map();
      folders.set(study.folder, notebooks);
    }
    const list = notebooks.get(study.notebook) ?? [];
    list.push(study);
    notebooks.set(study.notebook, list);
  }
  return [...folders.keys()].sort(byText).map(folder => ({
    folder,
    notebooks: [...folders.get(folder)!.entries()]
      .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : byText(a, b)))
      .map(([notebook, list]) => ({
        notebook,
        studies: [...list].sort((a, b) => byText(a.name, b.name) || byText(a.id, b.id))
      }))
  }));
}

/** The last path segment (`notebooks/01_quickstart.ipynb` → `01_quickstart.ipynb`). */
export function basename(path: string): string {
  const parts = path.split('/').filter(part => part.length > 0);
  return parts.length ? parts[parts.length - 1] : path;
}

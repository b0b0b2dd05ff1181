import { LabIcon } from '@jupyterlab/ui-components';

/** Three sliders: hyperparameters being tuned. `jp-icon3` follows the theme. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 5h9v2H3zM16 5h5v2h-5zM12 3h2.5v6H12zM3 11h4v2H3zM11 11h10v2H11zM7 9h2.5v6H7zM3 17h11v2H3zM18 17h3v2h-3zM14 15h2.5v6H14z"/>
  </g>
</svg>`;

export const automlIcon = new LabIcon({ name: 'jupyter-automl:automl', svgstr });

"""The study's display: live widgets and charts, or static figures for saved notebooks.

Imported only when a study is displayed, so ``%load_ext jupyter_automl`` stays light.
"""

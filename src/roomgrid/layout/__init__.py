"""From features to cells: PCA (pca), t-SNE and look-alike neighbours (tsne), the grid solver
(grid, with exact and blocks), the map's frame and spare cells (frame), and growing a built map
(base, extend, look_alikes). Imports core and selection (and what they import)."""

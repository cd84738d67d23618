"""roomgrid: lay listing photos on a zoomable grid where each sits next to look-alikes.

The subpackages are layers, lowest first; a module imports only from its own layer and the
layers below it (``tests/test_architecture.py`` holds the order):

- ``core/``: atomic files and tables, the config and its schema check, run logs, per-city HDF5
  readers, constants several layers agree on.
- ``sources/``: where photos come from: a folder the user has, the generated demo, the scraper.
- ``scan/``: one pass over each city's photos: decoding, entropy triage, dHash, blur stacks and
  thumbnails; duplicate finding on those hashes.
- ``features/``: what a photo shows: CNN features, k-means clusters, the culling classifier.
- ``selection/``: which photos go on the map (bins, exclusions, culled types, duplicates).
- ``layout/``: PCA, t-SNE, the grid solver, the spare cells and growing a built map.
- ``viewer/``: the tile pyramid, the viewer's data and its page.
- ``report/``: the figures of the Snakemake report; reads everything, nothing reads it.

Above them, ``stages`` holds one short adapter per Snakemake rule (the rules' only way in) and
``cli`` the ``roomgrid`` command. Each stage on files is a ``run_*`` function beside the
algorithm it runs, callable without Snakemake.
"""

__version__ = "0.1.0"

# The slippy map: a JPEG tile pyramid and the static Leaflet page that shows it.

LEAFLET_DIR = os.path.join(workflow.basedir, "node_modules/leaflet/dist")
CLIENT_ZIP_DIR = os.path.join(workflow.basedir, "node_modules/client-zip")


rule build_viewer:
    input:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        photos="results/selection/photos.tsv",
        neighbours="results/embedding/neighbours.tsv",
        arrangement_cells=arrangement_files("results/layout/{arrangement}/grid.tsv"),
        arrangement_facts=arrangement_files("results/layout/{arrangement}/grid.json"),
        leaflet=ancient(os.path.join(LEAFLET_DIR, "leaflet.js")),
        # the ZIP export of the selected originals
        client_zip=ancient(os.path.join(CLIENT_ZIP_DIR, "index.js")),
        # the clusters panel and place names (none when clusters.k is 0)
        clusters="results/clusters/clusters.tsv" if CLUSTERING else [],
    output:
        page="results/viewer/index.html",
        style="results/viewer/style.css",
        scripts=directory("results/viewer/js"),
        data=directory("results/viewer/data"),
        lib=directory("results/viewer/lib"),
        links=directory("results/viewer/photos"),
    log:
        "logs/build_viewer.log",
    benchmark:
        "results/benchmarks/build_viewer.tsv"
    conda:
        "../../envs/viewer.yaml"
    params:
        cities=CITIES,
        city_dirs={city: city_dir(city) for city in CITIES},
        cell_px=config["tiles"]["cell_px"],
        tile_px=config["tiles"]["tile_px"],
        title=config["viewer"]["title"],
        arrangements=OTHER_ARRANGEMENTS,
        leaflet_dir=lambda wildcards, input: os.path.dirname(input.leaflet),
        client_zip_dir=lambda wildcards, input: os.path.dirname(input.client_zip),
        # the names and dropped types the clusters panel starts from and writes back
        cull={key: CULL[key] for key in ("cluster_labels", "drop", "labels_csv")},
    script:
        "../scripts/run_stage.py"

# The slippy map: a JPEG tile pyramid and the static Leaflet page that shows it.

LEAFLET_DIR = os.path.join(workflow.basedir, "node_modules/leaflet/dist")


rule build_viewer:
    input:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        photos="results/selection/photos.tsv",
        neighbours="results/embedding/neighbours.tsv",
        arrangement_cells=arrangement_files("results/layout/{arrangement}/grid.tsv"),
        arrangement_facts=arrangement_files("results/layout/{arrangement}/grid.json"),
        leaflet=ancient(os.path.join(LEAFLET_DIR, "leaflet.js")),
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
    script:
        "../scripts/run_stage.py"

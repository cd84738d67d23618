# Arrangements (layout.arrangements): the same photos by a category, by bands of a number or a
# date, or at random, each with its own grid and tile pyramid. The first, similarity, is the
# look-alike map of layout_rebuild.smk / layout_extend.smk (results/layout/grid.tsv and
# results/viewer/tiles); the others are made here from its t-SNE positions, so in extend mode they
# are rebuilt from the extended map. Each job takes only its own arrangement's settings, so adding
# or changing one re-runs its grid, its tiles and the viewer's data, nothing else.

# ARRANGEMENTS, OTHER_ARRANGEMENTS and arrangement_files() are in common.smk.


wildcard_constraints:
    arrangement="|".join(re.escape(n) for n in OTHER_ARRANGEMENTS) or "(?!)",


rule arrange_photos:
    input:
        points="results/embedding/tsne.tsv",
        photos="results/selection/photos.tsv",
    output:
        cells="results/layout/{arrangement}/grid.tsv",
        facts="results/layout/{arrangement}/grid.json",
    log:
        "logs/arrange_photos/{arrangement}.log",
    benchmark:
        "results/benchmarks/arrange_photos/{arrangement}.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        runtime=60,
    params:
        spec=lambda wildcards: ARRANGEMENTS[wildcards.arrangement].params(),
        method=config["grid"]["method"],
        exact_max=config["grid"]["exact_max"],
        block_size=config["grid"]["block_size"],
        aspect=config["grid"]["aspect"],
    script:
        "../scripts/run_stage.py"


rule render_arrangement_tiles:
    input:
        cells="results/layout/{arrangement}/grid.tsv",
        facts="results/layout/{arrangement}/grid.json",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
    output:
        directory("results/viewer/arrangements/{arrangement}/tiles"),
    log:
        "logs/render_arrangement_tiles/{arrangement}.log",
    benchmark:
        "results/benchmarks/render_arrangement_tiles/{arrangement}.tsv"
    conda:
        "../../envs/viewer.yaml"
    threads: 2
    resources:
        runtime=120,
    params:
        cities=CITIES,
        cell_px=config["tiles"]["cell_px"],
        tile_px=config["tiles"]["tile_px"],
        quality=config["tiles"]["quality"],
        background=config["tiles"]["background"],
    script:
        "../scripts/run_stage.py"


# The report's overview of every arrangement and its quality (kNN-8 kept, DPQ16, per block).
ARRANGEMENT_PLOTS = ["results/report/arrangements.png"]


rule plot_arrangements:
    input:
        points="results/embedding/tsne.tsv",
        pca="results/embedding/pca.h5",
        cells=["results/layout/grid.tsv"]
        + arrangement_files("results/layout/{arrangement}/grid.tsv"),
        facts=["results/layout/grid.json"]
        + arrangement_files("results/layout/{arrangement}/grid.json"),
        tiles=["results/viewer/tiles"]
        + arrangement_files("results/viewer/arrangements/{arrangement}/tiles"),
    output:
        figure=report(
            "results/report/arrangements.png",
            caption="../report/arrangements.rst",
            category="Arrangements",
            labels={"figure": "arrangements"},
        ),
        table="results/report/arrangements.tsv",
    log:
        "logs/plot_arrangements.log",
    benchmark:
        "results/benchmarks/plot_arrangements.tsv"
    conda:
        "../../envs/embed.yaml"
    params:
        names=list(ARRANGEMENTS),
        cell_px=config["tiles"]["cell_px"],
        tile_px=config["tiles"]["tile_px"],
    script:
        "../scripts/run_stage.py"

# layout.mode extend: new photos join the map kept in results/base/ by the last rebuild; no placed
# photo moves, and only the tiles over changed cells are drawn anew (README: "Growing a map").

BASE = []


rule project_pca:
    input:
        photos="results/selection/photos.tsv",
        features=feature_files(),
        model=cnn_model(),
        base="results/base",
    output:
        "results/embedding/pca.h5",
    log:
        "logs/project_pca.log",
    benchmark:
        "results/benchmarks/project_pca.tsv"
    conda:
        "../../envs/embed.yaml"
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        batch_size=config["pca"]["batch_size"],
    script:
        "../scripts/run_stage.py"


rule place_tsne:
    input:
        pca="results/embedding/pca.h5",
        base="results/base",
    output:
        points="results/embedding/tsne.tsv",
        facts="results/embedding/tsne.json",
    log:
        "logs/place_tsne.log",
    benchmark:
        "results/benchmarks/place_tsne.tsv"
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"


rule extend_grid:
    input:
        points="results/embedding/tsne.tsv",
        photos="results/selection/photos.tsv",
        pca="results/embedding/pca.h5",
        base="results/base",
    output:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
    log:
        "logs/extend_grid.log",
    benchmark:
        "results/benchmarks/extend_grid.tsv"
    conda:
        "../../envs/embed.yaml"
    params:
        aspect=config["grid"]["aspect"],
        rebuild_below=config["layout"]["rebuild_below"],
    script:
        "../scripts/run_stage.py"


rule update_tiles:
    input:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
        base="results/base",
    output:
        directory("results/viewer/tiles"),
    log:
        "logs/update_tiles.log",
    benchmark:
        "results/benchmarks/update_tiles.tsv"
    conda:
        "../../envs/viewer.yaml"
    params:
        cities=CITIES,
        cell_px=config["tiles"]["cell_px"],
        tile_px=config["tiles"]["tile_px"],
        quality=config["tiles"]["quality"],
        background=config["tiles"]["background"],
    script:
        "../scripts/run_stage.py"

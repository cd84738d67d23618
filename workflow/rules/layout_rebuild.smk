# layout.mode rebuild: PCA, t-SNE, the grid and the tiles fitted anew to every selected photo, then
# kept in results/base/ for later extensions (layout_extend.smk).

BASE = ["results/base"]


rule reduce_pca:
    input:
        photos="results/selection/photos.tsv",
        features=feature_files(),
        model=cnn_model(),
    output:
        "results/embedding/pca.h5",
    log:
        "logs/reduce_pca.log",
    benchmark:
        "results/benchmarks/reduce_pca.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        n_components=config["pca"]["n_components"],
        batch_size=config["pca"]["batch_size"],
        method=config["pca"]["method"],
    script:
        "../scripts/run_stage.py"


rule embed_tsne:
    input:
        "results/embedding/pca.h5",
    output:
        points="results/embedding/tsne.tsv",
        facts="results/embedding/tsne.json",
        model="results/embedding/tsne.pkl",
    log:
        "logs/embed_tsne.log",
    benchmark:
        "results/benchmarks/embed_tsne.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    params:
        perplexity=config["tsne"]["perplexity"],
        learning_rate=config["tsne"]["learning_rate"],
        n_iter=config["tsne"]["n_iter"],
        early_exaggeration_iter=config["tsne"]["early_exaggeration_iter"],
        seed=config["tsne"]["seed"],
        initialization=config["tsne"]["initialization"],
    script:
        "../scripts/run_stage.py"


rule assign_grid:
    input:
        points="results/embedding/tsne.tsv",
        photos="results/selection/photos.tsv",
    output:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
    log:
        "logs/assign_grid.log",
    benchmark:
        "results/benchmarks/assign_grid.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        runtime=120,
    params:
        method=config["grid"]["method"],
        exact_max=config["grid"]["exact_max"],
        block_size=config["grid"]["block_size"],
        aspect=config["grid"]["aspect"],
        spare=config["layout"]["spare"],
    script:
        "../scripts/run_stage.py"


rule render_tiles:
    input:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
    output:
        directory("results/viewer/tiles"),
    log:
        "logs/render_tiles.log",
    benchmark:
        "results/benchmarks/render_tiles.tsv"
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


rule save_base:
    input:
        pca="results/embedding/pca.h5",
        model="results/embedding/tsne.pkl",
        points="results/embedding/tsne.tsv",
        tsne_facts="results/embedding/tsne.json",
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        tiles="results/viewer/tiles",
        clusters="results/clusters/clusters.tsv" if CLUSTERING else [],
        cluster_facts="results/clusters/clusters.json" if CLUSTERING else [],
    output:
        directory("results/base"),
    log:
        "logs/save_base.log",
    conda:
        "../../envs/viewer.yaml"
    script:
        "../scripts/run_stage.py"

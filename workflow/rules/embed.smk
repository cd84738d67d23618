# From features (CNN vectors or blur stacks) to 2-D: PCA streamed from HDF5, t-SNE, look-alike neighbours, grid cells.


# layout.mode rebuild fits PCA, t-SNE and the grid anew; extend takes them from results/base/
# (workflow/rules/grow.smk).
if LAYOUT == "rebuild":

    rule reduce_pca:
        input:
            photos="results/selection/photos.tsv",
            features=feature_files(),
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
        params:
            perplexity=config["tsne"]["perplexity"],
            learning_rate=config["tsne"]["learning_rate"],
            n_iter=config["tsne"]["n_iter"],
            early_exaggeration_iter=config["tsne"]["early_exaggeration_iter"],
            seed=config["tsne"]["seed"],
            initialization=config["tsne"]["initialization"],
        script:
            "../scripts/run_stage.py"


rule find_neighbours:
    input:
        "results/embedding/pca.h5",
    output:
        "results/embedding/neighbours.tsv",
    log:
        "logs/find_neighbours.log",
    benchmark:
        "results/benchmarks/find_neighbours.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    params:
        k=config["neighbours"]["k"],
        seed=config["tsne"]["seed"],
    script:
        "../scripts/run_stage.py"


if LAYOUT == "rebuild":

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
        params:
            method=config["grid"]["method"],
            exact_max=config["grid"]["exact_max"],
            block_size=config["grid"]["block_size"],
            aspect=config["grid"]["aspect"],
            spare=config["layout"]["spare"],
        script:
            "../scripts/run_stage.py"

# From feature stacks to 2-D: PCA streamed from HDF5, t-SNE, look-alike neighbours, grid cells.


rule reduce_pca:
    input:
        photos="results/selection/photos.tsv",
        stacks=per_city("results/cities/{city}/stacks.h5"),
    output:
        "results/embedding/pca.h5",
    params:
        cities=CITIES,
        n_components=config["pca"]["n_components"],
        batch_size=config["pca"]["batch_size"],
        method=config["pca"]["method"],
    log:
        "logs/reduce_pca.log",
    benchmark:
        "results/benchmarks/reduce_pca.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/reduce_pca.py"


rule embed_tsne:
    input:
        "results/embedding/pca.h5",
    output:
        points="results/embedding/tsne.tsv",
        facts="results/embedding/tsne.json",
    params:
        perplexity=config["tsne"]["perplexity"],
        learning_rate=config["tsne"]["learning_rate"],
        n_iter=config["tsne"]["n_iter"],
        early_exaggeration_iter=config["tsne"]["early_exaggeration_iter"],
        seed=config["tsne"]["seed"],
        initialization=config["tsne"]["initialization"],
    log:
        "logs/embed_tsne.log",
    benchmark:
        "results/benchmarks/embed_tsne.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/embed_tsne.py"


rule find_neighbours:
    input:
        "results/embedding/pca.h5",
    output:
        "results/embedding/neighbours.tsv",
    params:
        k=config["neighbours"]["k"],
        seed=config["tsne"]["seed"],
    log:
        "logs/find_neighbours.log",
    benchmark:
        "results/benchmarks/find_neighbours.tsv"
    threads: 2
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/find_neighbours.py"


rule assign_grid:
    input:
        points="results/embedding/tsne.tsv",
        photos="results/selection/photos.tsv",
    output:
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
    params:
        method=config["grid"]["method"],
        exact_max=config["grid"]["exact_max"],
        block_size=config["grid"]["block_size"],
        aspect=config["grid"]["aspect"],
    log:
        "logs/assign_grid.log",
    benchmark:
        "results/benchmarks/assign_grid.tsv"
    threads: 2
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/assign_grid.py"

# Each photo's look-alikes in PCA space: the viewer's "most like it" strip, in either layout mode.


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

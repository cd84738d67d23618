# k-means clusters of the features (clusters.k > 0, or clusters named in cull.cluster_labels).


rule cluster_photos:
    input:
        scans=per_city("results/cities/{city}/scan.tsv"),
        features=feature_files(),
        model=cnn_model(),
        # extend: keep the base's clusters, new photos join the nearest
        base=BASE_INPUT,
    output:
        table="results/clusters/clusters.tsv",
        facts="results/clusters/clusters.json",
    log:
        "logs/cluster_photos.log",
    benchmark:
        "results/benchmarks/cluster_photos.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        runtime=60,
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        k=config["clusters"]["k"],
        seed=config["clusters"]["seed"],
    script:
        "../scripts/run_stage.py"


rule plot_clusters:
    input:
        table="results/clusters/clusters.tsv",
        facts="results/clusters/clusters.json",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
    output:
        report(
            "results/report/clusters.png",
            caption="../report/clusters.rst",
            category="Features",
            labels={"figure": "clusters"},
        ),
    log:
        "logs/plot_clusters.log",
    conda:
        "../../envs/embed.yaml"
    params:
        cities=CITIES,
        names=CULL["cluster_labels"],
    script:
        "../scripts/run_stage.py"

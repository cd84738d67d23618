# The culling classifier (something labelled in cull.*): features of the labelled photos, the
# predicted type of every photo, and the report's confusion matrix.


rule embed_labels:
    input:
        model=cnn_model(),
    output:
        features="results/cull/labels.h5",
        files="results/cull/label_files.tsv",
    log:
        "logs/embed_labels.log",
    conda:
        "../../envs/cnn.yaml"
    threads: 2
    params:
        labels_dir=config["cull"]["labels_dir"],
        fingerprint=lambda wc: folder_fingerprint(
            config["cull"]["labels_dir"],
            cache=".snakemake/roomgrid/fingerprints/labels.json",
        ),
        kind=FEATURES,
        stack=config["scan"]["stack"],
        max_pixels=config["scan"]["max_pixels"],
    script:
        "../scripts/run_stage.py"


rule predict_types:
    input:
        scans=per_city("results/cities/{city}/scan.tsv"),
        features=feature_files(),
        model=cnn_model(),
        labels_csv=config["cull"]["labels_csv"] or [],
        labels_h5="results/cull/labels.h5" if config["cull"]["labels_dir"] else [],
        clusters=(
            "results/clusters/clusters.tsv" if config["cull"]["cluster_labels"] else []
        ),
    output:
        predictions="results/cull/predictions.tsv",
        metrics="results/cull/metrics.json",
    log:
        "logs/predict_types.log",
    benchmark:
        "results/benchmarks/predict_types.tsv"
    conda:
        "../../envs/embed.yaml"
    threads: 2
    resources:
        runtime=60,
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        cluster_labels={int(k): v for k, v in config["cull"]["cluster_labels"].items()},
        cluster_examples=config["cull"]["cluster_examples"],
        recall=config["cull"]["recall"],
    script:
        "../scripts/run_stage.py"


rule plot_culling:
    input:
        metrics="results/cull/metrics.json",
        summary="results/selection/summary.json",
    output:
        report(
            "results/report/culling.png",
            caption="../report/culling.rst",
            category="Culling",
            labels={"figure": "culling"},
        ),
    log:
        "logs/plot_culling.log",
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"

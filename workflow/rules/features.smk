# What each photo shows: CNN features per city, k-means clusters, and the culling classifier.
# PCA, t-SNE, look-alikes, clusters and culling read the chosen features through feature_files().


rule export_cnn:
    output:
        "results/model/cnn.onnx",
    log:
        "logs/export_cnn.log",
    conda:
        "../../envs/cnn.yaml"
    params:
        model=config["features"]["cnn"]["model"],
        input_px=config["features"]["cnn"]["input_px"],
        weights=config["features"]["cnn"]["weights"],
        precision=config["features"]["cnn"]["precision"],
    script:
        "../scripts/run_stage.py"


rule embed_city:
    input:
        photos="results/cities/{city}/photos.tsv",
        scan="results/cities/{city}/scan.tsv",
        model="results/model/cnn.onnx",
    output:
        "results/cities/{city}/cnn.h5",
    log:
        "logs/embed_city/{city}.log",
    benchmark:
        "results/benchmarks/embed_city/{city}.tsv"
    conda:
        "../../envs/cnn.yaml"
    threads: 2
    resources:
        mem_mb=1500,
    params:
        device=config["features"]["cnn"]["device"],
        batch_size=config["features"]["cnn"]["batch_size"],
        draft=config["scan"]["draft"],
        max_pixels=config["scan"]["max_pixels"],
    script:
        "../scripts/run_stage.py"


rule cluster_photos:
    input:
        scans=per_city("results/cities/{city}/scan.tsv"),
        features=feature_files(),
        # extend: keep the base's clusters, new photos join the nearest
        base="results/base" if LAYOUT == "extend" else [],
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
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        k=config["clusters"]["k"],
        seed=config["clusters"]["seed"],
    script:
        "../scripts/run_stage.py"


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
        device=config["features"]["cnn"]["device"],
        max_pixels=config["scan"]["max_pixels"],
    script:
        "../scripts/run_stage.py"


rule predict_types:
    input:
        scans=per_city("results/cities/{city}/scan.tsv"),
        features=feature_files(),
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
    params:
        cities=CITIES,
        dataset=FEATURE_DATASET,
        cluster_labels={int(k): v for k, v in config["cull"]["cluster_labels"].items()},
        cluster_examples=config["cull"]["cluster_examples"],
    script:
        "../scripts/run_stage.py"


# Report figures of this stage.
FEATURE_PLOTS = (["results/report/clusters.png"] if CLUSTERING else []) + (
    ["results/report/culling.png"] if CULLING else []
)


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

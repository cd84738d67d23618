# Figures for `snakemake --report report.html`: what a person would rather look at than read.

REPORT_PLOTS = [
    "results/report/triage.png",
    "results/report/pca_variance.png",
    "results/report/layout.png",
]


rule plot_triage:
    input:
        photos="results/selection/photos.tsv",
        summary="results/selection/summary.json",
    output:
        report(
            "results/report/triage.png",
            caption="../report/triage.rst",
            category="Selection",
            labels={"figure": "entropy triage"},
        ),
    log:
        "logs/plot_triage.log",
    conda:
        "../../envs/embed.yaml"
    params:
        graphic_below=config["triage"]["graphic_below"],
        photo_from=config["triage"]["photo_from"],
    script:
        "../scripts/run_stage.py"


rule plot_pca_variance:
    input:
        "results/embedding/pca.h5",
    output:
        report(
            "results/report/pca_variance.png",
            caption="../report/pca.rst",
            category="Embedding",
            labels={"figure": "PCA variance"},
        ),
    log:
        "logs/plot_pca_variance.log",
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"


rule plot_layout:
    input:
        points="results/embedding/tsne.tsv",
        cells="results/layout/grid.tsv",
        facts="results/layout/grid.json",
        tsne="results/embedding/tsne.json",
    output:
        report(
            "results/report/layout.png",
            caption="../report/layout.rst",
            category="Embedding",
            labels={"figure": "t-SNE and grid"},
        ),
    log:
        "logs/plot_layout.log",
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"

# Figures for `snakemake --report report.html`: what a person would rather look at than read.

from snakemake.io import strip_wildcard_constraints

REPORT_PLOTS = [
    "results/report/counts.png",
    "results/report/triage.png",
    "results/report/bin_examples.png",
    "results/report/duplicates.png",
    "results/report/pca_variance.png",
    "results/report/layout.png",
    "results/report/tsne_thumbnails.png",
    "results/report/benchmarks.png",
]
# The clusters' and the culling classifier's figures are FEATURE_PLOTS (common.smk).


def stage_benchmarks():
    """The benchmark file of every included rule that has one (per city for per-city rules):
    the rule files include only the rules this config runs, so the figure shows current stages.
    """
    files = []
    for stage in workflow.rules:
        if stage.benchmark is not None:
            pattern = strip_wildcard_constraints(str(stage.benchmark))
            if "{arrangement}" in pattern:
                files.extend(arrangement_files(pattern))
            else:
                files.extend(per_city(pattern) if "{city}" in pattern else [pattern])
    return files


rule plot_counts:
    input:
        "results/selection/photos.tsv",
    output:
        report(
            "results/report/counts.png",
            caption="../report/counts.rst",
            category="Selection",
            labels={"figure": "photos per city and bin"},
        ),
    log:
        "logs/plot_counts.log",
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"


rule plot_examples:
    input:
        photos="results/selection/photos.tsv",
        duplicates="results/selection/duplicates.tsv",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
    output:
        bins=report(
            "results/report/bin_examples.png",
            caption="../report/bin_examples.rst",
            category="Selection",
            labels={"figure": "examples of each bin"},
        ),
        duplicates=report(
            "results/report/duplicates.png",
            caption="../report/duplicates.rst",
            category="Selection",
            labels={"figure": "duplicate groups"},
        ),
    log:
        "logs/plot_examples.log",
    conda:
        "../../envs/embed.yaml"
    params:
        cities=CITIES,
    script:
        "../scripts/run_stage.py"


rule plot_tsne_thumbnails:
    input:
        points="results/embedding/tsne.tsv",
        cells="results/layout/grid.tsv",
        thumbs=per_city("results/cities/{city}/thumbs.h5"),
    output:
        report(
            "results/report/tsne_thumbnails.png",
            caption="../report/tsne_thumbnails.rst",
            category="Embedding",
            labels={"figure": "t-SNE map of photos"},
        ),
    log:
        "logs/plot_tsne_thumbnails.log",
    conda:
        "../../envs/embed.yaml"
    params:
        cities=CITIES,
        seed=config["tsne"]["seed"],
    script:
        "../scripts/run_stage.py"


rule plot_benchmarks:
    input:
        stage_benchmarks(),
    output:
        report(
            "results/report/benchmarks.png",
            caption="../report/benchmarks.rst",
            category="Costs",
            labels={"figure": "time and memory per stage"},
        ),
    log:
        "logs/plot_benchmarks.log",
    conda:
        "../../envs/embed.yaml"
    script:
        "../scripts/run_stage.py"


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

# roomgrid: listing photos -> a zoomable grid of look-alikes.
# Data flow: sources -> per-city scan (+ CNN features) -> clusters, culling -> selection -> PCA -> t-SNE -> grid -> tiles + viewer.
# Each stage's logic lives in src/roomgrid; the rules below only wire files and parameters.

import os
import sys

from snakemake.utils import min_version

min_version("9.0")

# The workflow's own package, whether or not it is pip-installed (the scripts do the same).
sys.path.insert(0, os.path.join(workflow.basedir, "src"))


configfile: os.path.join(workflow.basedir, "config/config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/scan.smk"


# Each feature stage's rules are included only when the config runs them, so every included rule
# is one this config needs (the report's time figure lists exactly these).
if FEATURES == "cnn":

    include: "workflow/rules/cnn.smk"


if CLUSTERING:

    include: "workflow/rules/clusters.smk"


if CULLING:

    include: "workflow/rules/cull.smk"


include: "workflow/rules/select.smk"
include: "workflow/rules/neighbours.smk"
# layout.mode: fit everything anew (rebuild) or grow the map kept in results/base/ (extend).
include: f"workflow/rules/layout_{LAYOUT}.smk"
# layout.arrangements: the same photos by city, rent, date or at random, switched in the viewer.
include: "workflow/rules/arrangements.smk"
include: "workflow/rules/viewer.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/viewer/index.html",
        "results/viewer/tiles",
        arrangement_files("results/viewer/arrangements/{arrangement}/tiles"),
        ARRANGEMENT_PLOTS,
        REPORT_PLOTS,
        FEATURE_PLOTS,
        BASE,

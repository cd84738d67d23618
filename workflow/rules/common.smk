import functools
import re

from snakemake.io import strip_wildcard_constraints
from snakemake.logging import logger

from roomgrid.core.config import ConfigError, stop, validate_config
from roomgrid.core.constants import MIN_PHOTOS
from roomgrid.sources.folder import (
    IMAGE_EXTENSIONS,
    discover_cities,
    file_fingerprint,
    folder_fingerprint,
    is_text_name,
    list_city_photos,
)

try:
    validate_config(
        config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
    )
except ConfigError as error:
    stop(error)

SOURCE = config["source"]["kind"]


def source_cities():
    if SOURCE == "demo":
        return list(config["source"]["demo"]["cities"])
    if SOURCE == "folder":
        return folder_cities(config["source"].get("folder") or {})
    from roomgrid.sources.scrape import areas_to_scrape

    try:
        return areas_to_scrape(config["source"].get("scrape") or {})
    except ValueError as error:  # start_area not among the areas
        stop(error)


def folder_cities(folder):
    """The cities of a folder source, stopping with one sentence when they cannot make a map."""
    images_dir = folder.get("images_dir")
    if not images_dir:
        stop(
            "config key source.folder.images_dir must be set when source.kind is folder"
        )
    if not os.path.isdir(images_dir):
        stop(f"source.folder.images_dir {images_dir} is not a folder")
    listed = list(folder.get("cities") or [])
    missing = [c for c in listed if not os.path.isdir(os.path.join(images_dir, c))]
    if missing:
        stop(
            f"source.folder.cities lists {', '.join(map(repr, missing))}, "
            f"but {images_dir} has no such sub-folder"
        )
    cities = listed or discover_cities(images_dir)
    unnamed = [
        os.fsencode(c).decode(errors="backslashreplace")
        for c in cities
        if not is_text_name(c)
    ]
    if unnamed:  # a city's name is its ids' prefix and a folder name under results/
        stop(
            f"rename the city folder(s) {', '.join(unnamed)} in {images_dir}: not UTF-8 text"
        )
    if not cities:
        loose = [
            p
            for p in Path(images_dir).iterdir()
            if p.suffix.lower() in IMAGE_EXTENSIONS
        ]
        stop(
            f"no city found in {images_dir}: each city's photos ({' '.join(sorted(IMAGE_EXTENSIONS))}) "
            "go in a sub-folder named after the city"
            + (
                f", and the {len(loose)} images lying directly in it belong to none"
                if loose
                else ""
            )
        )
    found = 0
    for (
        city
    ) in cities:  # stop counting as soon as there are enough: a walk per city costs
        found += len(list_city_photos(os.path.join(images_dir, city)))
        if found >= MIN_PHOTOS:
            break
    else:
        stop(
            f"only {found} image file(s) in {', '.join(cities)} under {images_dir}: "
            f"the map needs at least {MIN_PHOTOS} photos"
        )
    return cities


CITIES = source_cities()
if not CITIES:
    stop("no cities to process: check the source section of the config")


wildcard_constraints:
    city="|".join(re.escape(c) for c in CITIES),


def city_dir(city):
    if SOURCE == "demo":
        return f"resources/demo/{city}"
    if SOURCE == "scrape":
        return f"resources/scraped/{city}"
    return os.path.join(config["source"]["folder"]["images_dir"], city)


def city_source(wildcards):
    """The job or folder a city's photos come from: scan_city's input. Asking the checkpoint
    makes Snakemake build scan_city only after the photos exist, so its fingerprint is final.
    A user's folder is ancient: its modification time changes when it is replaced or a file
    comes and goes, while only its content (the fingerprint param) should count.
    """
    if SOURCE == "demo":
        return checkpoints.make_demo_city.get(city=wildcards.city).output[0]
    if SOURCE == "scrape":
        return checkpoints.scrape_city.get(city=wildcards.city).output[0]
    return ancient(city_dir(wildcards.city))


def city_fingerprint(wildcards):
    """A digest of the names and contents of a city's files and listings, as a param of
    scan_city: adding, removing or editing one photo re-runs exactly that city's jobs and the
    global ones; touching one re-runs nothing. (Declaring every photo as an input would make DAG
    building cost per photo, about a minute at 125,000 photos, and re-run on every touch.) The
    cache of file hashes is Snakemake-run state, so it lives under .snakemake/. A metadata CSV
    counts by its content too."""
    photos = folder_fingerprint(
        city_dir(wildcards.city),
        cache=f".snakemake/roomgrid/fingerprints/{wildcards.city}.json",
    )
    table = metadata_csv()
    return f"{photos} {file_fingerprint(table)}" if table else photos


def metadata_csv():
    """A folder source's metadata CSV, ancient like the folders: its content counts (above)."""
    folder = config["source"].get("folder") or {}
    table = folder.get("metadata_csv") if SOURCE == "folder" else None
    return ancient(table) if table else None


def per_city(pattern):
    return expand(pattern, city=CITIES)


# What PCA, t-SNE, look-alikes, clusters and culling are computed from.
FEATURES = config["features"]["kind"]
FEATURE_DATASET = "features" if FEATURES == "cnn" else "stacks"
CULL = config["cull"]
# The classifier runs only when something is labelled; selection reads its table only then.
CULLING = bool(CULL["labels_dir"] or CULL["labels_csv"] or CULL["cluster_labels"])
CLUSTERING = config["clusters"]["k"] > 0 or bool(CULL["cluster_labels"])
if CULL["cluster_labels"] and config["clusters"]["k"] == 0:
    stop("config key cull.cluster_labels names clusters, but clusters.k is 0")


# One job a city reads its folder: it indexes the files (photos.tsv), then scans them. With
# features.kind cnn it also embeds the photos, from the same decode, into cnn_scan.h5 with the
# model of the day. The model is ancient to the scan, so a new model or precision never re-runs
# the scan: a city whose cnn_scan.h5 another model made is embedded anew into cnn.h5
# (embed_city), and what follows reads that instead.
SCAN_INPUTS = {
    "source": city_source,
    "metadata": lambda wc: metadata_csv() or [],
}
SCAN_OUTPUTS = {
    "photos": "results/cities/{city}/photos.tsv",
    "scan": "results/cities/{city}/scan.tsv",
    "stacks": "results/cities/{city}/stacks.h5",
    "thumbs": "results/cities/{city}/thumbs.h5",
}
if FEATURES == "cnn":
    from roomgrid.features.cnn import model_facts, quantization_of
    from roomgrid.features.scan_pass import draft_side, scan_features_current
    from roomgrid.scan.city import ScanSettings

    CNN = config["features"]["cnn"]
    if CNN["device"] == "cuda" and CNN["runtime"] != "onnxruntime":
        stop(
            "features.cnn.device cuda runs on onnxruntime: set features.cnn.runtime: onnxruntime"
        )
    CNN_MODEL_FACTS = model_facts(
        CNN["model"], CNN["input_px"], CNN["weights"], CNN["precision"]
    )
    # The draft decode both embeddings use (the scan's pass and embed_city), so they agree.
    CNN_DRAFT_SIDE = draft_side(
        ScanSettings(
            stack_size=config["scan"]["stack"]["size"],
            thumb_px=config["scan"]["thumb_px"],
            draft=config["scan"]["draft"],
        ),
        CNN["input_px"],
    )
    SCAN_INPUTS["model"] = ancient("results/model/cnn.onnx")
    SCAN_OUTPUTS["features"] = "results/cities/{city}/cnn_scan.h5"


@functools.lru_cache(maxsize=None)  # asked by feature_files() and stage_cities() alike
def embedded_anew(city):
    """Whether ``city``'s scan features were made by another model than the configured one."""
    return not scan_features_current(
        f"results/cities/{city}/cnn_scan.h5", CNN_MODEL_FACTS
    )


def cnn_features(city):
    """The scan's features of ``city`` while the configured model made them, else cnn.h5."""
    name = "cnn.h5" if embedded_anew(city) else "cnn_scan.h5"
    return f"results/cities/{city}/{name}"


def feature_files():
    """Each city's features file, in CITIES order."""
    if FEATURES == "cnn":
        return [cnn_features(city) for city in CITIES]
    return per_city("results/cities/{city}/stacks.h5")


def cnn_model():
    """The model file, also an input of each reader of feature_files(). Snakemake does not
    follow a new model through the scan (its input is ancient), so a change of model must reach
    what reads the features directly, also when that is the scan's file again."""
    return "results/model/cnn.onnx" if FEATURES == "cnn" else []


# rebuild: every run fits PCA, t-SNE and the grid to all photos and keeps them as results/base/.
# extend: new photos join that base; no placed photo moves (README: "Growing a map"). The Snakefile
# includes layout_rebuild.smk or layout_extend.smk, by this mode.
LAYOUT = config["layout"]["mode"]
if LAYOUT == "extend" and not os.path.exists("results/base/grid.json"):
    stop(
        "layout.mode extend grows the map kept in results/base/, which does not exist yet: "
        "build once with layout.mode rebuild"
    )
# What the stages that keep the base's numbers in extend mode (clusters, selection) also read.
BASE_INPUT = "results/base" if LAYOUT == "extend" else []

# Report figures of the features: the clusters' and the culling classifier's.
FEATURE_PLOTS = (["results/report/clusters.png"] if CLUSTERING else []) + (
    ["results/report/culling.png"] if CULLING else []
)


# layout.arrangements (arrangements.smk), checked here so a bad entry stops the run before any job.
from roomgrid.layout.arrange import SIMILARITY, parse_arrangements

try:
    ARRANGEMENTS = {
        spec.name: spec for spec in parse_arrangements(config["layout"]["arrangements"])
    }
except ValueError as error:
    stop(error)
# Every arrangement but similarity, in the configured order: the {arrangement} wildcard's values.
OTHER_ARRANGEMENTS = [name for name in ARRANGEMENTS if name != SIMILARITY]


def arrangement_files(pattern):
    return expand(pattern, arrangement=OTHER_ARRANGEMENTS)


def stage_benchmarks():
    """The benchmark file of each included stage that has one, per city where the stage is per city;
    the rule files include only the rules this config runs, so the figure shows current stages.
    """
    files = []
    for stage in workflow.rules:
        if stage.benchmark is not None:
            pattern = strip_wildcard_constraints(str(stage.benchmark))
            if "{arrangement}" in pattern:
                files.extend(arrangement_files(pattern))
            else:
                files.extend(
                    expand(pattern, city=stage_cities(stage.name))
                    if "{city}" in pattern
                    else [pattern]
                )
    return files


def stage_cities(stage):
    """The cities of a per-city stage (embed_city: only the cities embedded anew)."""
    if stage == "embed_city":
        return [city for city in CITIES if embedded_anew(city)]
    return CITIES


# On one machine, scheduling rounds follow the jobs. Snakemake's job pacing
# (--max-jobs-per-timespan, default 100/1s) also books a fresh round one second after every
# round that leaves jobs waiting for cores, and every job that ends starts one more such chain:
# with 400 cities' jobs queued, Snakemake's own process took ~0.6 of a core from them on two
# cores (benchmarks/RESULTS.md, "Snakemake's own share"). Pacing guards a cluster's queue, not a
# laptop, so a local run goes without it; the Slurm profile keeps it.
def drop_local_pacing():
    scheduler = getattr(workflow, "scheduler", None)
    if workflow.local_exec and getattr(scheduler, "job_rate_limiter", None) is not None:
        scheduler.job_rate_limiter = None
        logger.info(
            "roomgrid: local run, scheduling rounds follow the jobs (no timed re-rounds)"
        )


onstart:
    drop_local_pacing()

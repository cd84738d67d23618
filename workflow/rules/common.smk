import re

from roomgrid.core.config import validate_config
from roomgrid.core.constants import MIN_PHOTOS
from roomgrid.sources.folder import (
    IMAGE_EXTENSIONS,
    discover_cities,
    folder_fingerprint,
    list_city_photos,
)

validate_config(
    config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
)

SOURCE = config["source"]["kind"]


def source_cities():
    if SOURCE == "demo":
        return list(config["source"]["demo"]["cities"])
    if SOURCE == "folder":
        return folder_cities(config["source"].get("folder") or {})
    from roomgrid.sources.scrape import areas_to_scrape

    return areas_to_scrape(config["source"].get("scrape") or {})


def folder_cities(folder):
    """The cities of a folder source, stopping with one sentence when they cannot make a map."""
    images_dir = folder.get("images_dir")
    if not images_dir:
        raise ValueError(
            "config key source.folder.images_dir must be set when source.kind is folder"
        )
    if not os.path.isdir(images_dir):
        raise ValueError(f"source.folder.images_dir {images_dir} is not a folder")
    listed = list(folder.get("cities") or [])
    missing = [c for c in listed if not os.path.isdir(os.path.join(images_dir, c))]
    if missing:
        raise ValueError(
            f"source.folder.cities lists {', '.join(map(repr, missing))}, "
            f"but {images_dir} has no such sub-folder"
        )
    cities = listed or discover_cities(images_dir)
    if not cities:
        loose = [
            p
            for p in Path(images_dir).iterdir()
            if p.suffix.lower() in IMAGE_EXTENSIONS
        ]
        raise ValueError(
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
        raise ValueError(
            f"only {found} image file(s) in {', '.join(cities)} under {images_dir}: "
            f"the map needs at least {MIN_PHOTOS} photos"
        )
    return cities


CITIES = source_cities()
if not CITIES:
    raise ValueError("no cities to process: check the source section of the config")


wildcard_constraints:
    city="|".join(re.escape(c) for c in CITIES),


def city_dir(city):
    if SOURCE == "demo":
        return f"resources/demo/{city}"
    if SOURCE == "scrape":
        return f"resources/scraped/{city}"
    return os.path.join(config["source"]["folder"]["images_dir"], city)


def city_source(wildcards):
    """The job or folder a city's photos come from: index_city's input. Asking the checkpoint
    makes Snakemake build index_city only after the photos exist, so its fingerprint is final.
    """
    if SOURCE == "demo":
        return checkpoints.make_demo_city.get(city=wildcards.city).output[0]
    if SOURCE == "scrape":
        return checkpoints.scrape_city.get(city=wildcards.city).output[0]
    return city_dir(wildcards.city)


def city_fingerprint(wildcards):
    """A digest of the names and contents of a city's files and listings, as a param of
    index_city: adding, removing or editing one photo re-runs exactly that city's jobs and the
    global ones; touching one re-runs nothing. (Declaring every photo as an input would make DAG
    building cost per photo, about a minute at 125,000 photos, and re-run on every touch.) The
    cache of file hashes is Snakemake-run state, so it lives under .snakemake/."""
    return folder_fingerprint(
        city_dir(wildcards.city),
        cache=f".snakemake/roomgrid/fingerprints/{wildcards.city}.json",
    )


def metadata_csv():
    folder = config["source"].get("folder") or {}
    return folder.get("metadata_csv") if SOURCE == "folder" else None


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
    raise ValueError(
        "config key cull.cluster_labels names clusters, but clusters.k is 0"
    )


def feature_files():
    """Each city's features file, in CITIES order."""
    name = "cnn.h5" if FEATURES == "cnn" else "stacks.h5"
    return per_city(f"results/cities/{{city}}/{name}")


def cnn_model():
    return "results/model/cnn.onnx" if FEATURES == "cnn" else []


# rebuild: every run fits PCA, t-SNE and the grid to all photos and keeps them as results/base/.
# extend: new photos join that base; no placed photo moves (README: "Growing a map"). The Snakefile
# includes the rule file of the chosen mode: layout_rebuild.smk or layout_extend.smk.
LAYOUT = config["layout"]["mode"]
if LAYOUT == "extend" and not os.path.exists("results/base/grid.json"):
    raise ValueError(
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

ARRANGEMENTS = {
    spec.name: spec for spec in parse_arrangements(config["layout"]["arrangements"])
}
# Every arrangement but similarity, in the configured order: the {arrangement} wildcard's values.
OTHER_ARRANGEMENTS = [name for name in ARRANGEMENTS if name != SIMILARITY]


def arrangement_files(pattern):
    return expand(pattern, arrangement=OTHER_ARRANGEMENTS)

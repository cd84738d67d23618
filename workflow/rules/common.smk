import re

from roomgrid.config import validate_config
from roomgrid.sources import discover_cities, folder_fingerprint

validate_config(
    config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
)

SOURCE = config["source"]["kind"]


def source_cities():
    if SOURCE == "demo":
        return list(config["source"]["demo"]["cities"])
    if SOURCE == "folder":
        folder = config["source"].get("folder") or {}
        if not folder.get("images_dir"):
            raise ValueError(
                "config key source.folder.images_dir must be set when source.kind is folder"
            )
        return list(folder.get("cities") or discover_cities(folder["images_dir"]))
    from roomgrid.scrape import areas_to_scrape

    return areas_to_scrape(config["source"].get("scrape") or {})


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
    """A digest of the names, sizes and times of a city's photos and listings, as a param of
    index_city: adding, removing or editing one photo re-runs exactly that city's jobs and the
    global ones. (Declaring every photo as an input does the same but makes DAG building cost
    per photo: about a minute at 125,000 photos instead of seconds.)"""
    return folder_fingerprint(city_dir(wildcards.city))


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
# extend: new photos join that base; no placed photo moves (README: "Growing a map").
LAYOUT = config["layout"]["mode"]
if LAYOUT == "extend" and not os.path.exists("results/base/grid.json"):
    raise ValueError(
        "layout.mode extend grows the map kept in results/base/, which does not exist yet: "
        "build once with layout.mode rebuild"
    )

import re

from pathlib import Path

from roomgrid.config import validate_config
from roomgrid.sources import discover_cities, list_city_photos, LISTINGS_FILE

validate_config(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))

SOURCE = config["source"]["kind"]


def source_cities():
    if SOURCE == "demo":
        return list(config["source"]["demo"]["cities"])
    if SOURCE == "folder":
        folder = config["source"].get("folder") or {}
        if not folder.get("images_dir"):
            raise ValueError("config key source.folder.images_dir must be set when source.kind is folder")
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


def city_photo_inputs(wildcards):
    """The photos of one city, plus its listing metadata: every one is an input of index_city, so
    adding, removing or editing one photo re-runs exactly that city's jobs and the global ones."""
    if SOURCE == "demo":
        checkpoints.make_demo_city.get(city=wildcards.city)
    elif SOURCE == "scrape":
        checkpoints.scrape_city.get(city=wildcards.city)
    folder = Path(city_dir(wildcards.city))
    files = [str(folder / rel) for rel in list_city_photos(folder)]
    listings = folder / LISTINGS_FILE
    return files + ([str(listings)] if listings.exists() else [])


def metadata_csv():
    folder = config["source"].get("folder") or {}
    return folder.get("metadata_csv") if SOURCE == "folder" else None


def per_city(pattern):
    return expand(pattern, city=CITIES)

# Where each city's photos come from: the demo generator, the scraper, or a folder the user has
# (read by its scan job, scan.smk).


checkpoint make_demo_city:
    output:
        directory("resources/demo/{city}"),
    log:
        "logs/make_demo_city/{city}.log",
    conda:
        "../../envs/scan.yaml"
    params:
        cities=config["source"]["demo"]["cities"],
        photos_per_city=config["source"]["demo"]["photos_per_city"],
        seed=config["source"]["demo"]["seed"],
    script:
        "../scripts/run_stage.py"


# Scrape jobs run one at a time unless --resources craigslist=N says otherwise; the jobs pace their
# requests to a host together (lock files in resources/scraped/.pacing), so N > 1 stays polite.
if "craigslist" not in workflow.global_resources:
    workflow.register_resource("craigslist", 1)


# Downloads run where Snakemake runs (cluster compute nodes often have no internet).
localrules:
    scrape_city,


# Only the manifest is declared: Snakemake deletes a job's outputs before re-running it, and the
# photos and the resume journal (.scrape/) beside the manifest must survive that. The manifest is
# flagged update: a forced or failing run keeps the last good one (Snakemake restores it when the
# job fails); an area that never finished has none, so it is never taken for complete.
checkpoint scrape_city:
    output:
        update("resources/scraped/{city}/listings.tsv"),
    log:
        "logs/scrape_city/{city}.log",
    conda:
        "../../envs/scrape.yaml"
    resources:
        craigslist=1,
    params:
        # which areas exist is not a setting of one area's scrape: adding an area must not re-run others
        settings={
            k: v
            for k, v in config["source"].get("scrape", {}).items()
            if k not in ("areas", "skip_areas_before", "start_area")
        },
    script:
        "../scripts/run_stage.py"

# Where each city's photos come from: the demo generator, the scraper, or a folder the user has.


checkpoint make_demo_city:
    output:
        directory("resources/demo/{city}"),
    params:
        cities=config["source"]["demo"]["cities"],
        photos_per_city=config["source"]["demo"]["photos_per_city"],
        seed=config["source"]["demo"]["seed"],
    log:
        "logs/make_demo_city/{city}.log",
    conda:
        "../../envs/scan.yaml"
    script:
        "../scripts/make_demo_city.py"


# Scrape jobs share one image host, so run one at a time unless --resources craigslist=N says otherwise.
if "craigslist" not in workflow.global_resources:
    workflow.register_resource("craigslist", 1)


# Downloads run where Snakemake runs (cluster compute nodes often have no internet).
localrules:
    scrape_city,


# Only the manifest is declared: Snakemake deletes a job's outputs before re-running it, and the
# photos and the resume journal (.scrape/) beside the manifest must survive that.
checkpoint scrape_city:
    output:
        "resources/scraped/{city}/listings.tsv",
    params:
        # which areas exist is not a setting of one area's scrape: adding an area must not re-run others
        settings={k: v for k, v in config["source"].get("scrape", {}).items()
                  if k not in ("areas", "start_area")},
    log:
        "logs/scrape_city/{city}.log",
    resources:
        craigslist=1,  # one area at a time: the politeness delay holds within one process only
    conda:
        "../../envs/scrape.yaml"
    script:
        "../scripts/scrape_city.py"


rule index_city:
    input:
        source=city_source,
        metadata=lambda wc: metadata_csv() or [],
    output:
        "results/cities/{city}/photos.tsv",
    params:
        city_dir=lambda wc: city_dir(wc.city),
        fingerprint=city_fingerprint,
    log:
        "logs/index_city/{city}.log",
    benchmark:
        "results/benchmarks/index_city/{city}.tsv"
    conda:
        "../../envs/scan.yaml"
    script:
        "../scripts/index_city.py"

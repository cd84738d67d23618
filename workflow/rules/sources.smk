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


rule index_city:
    input:
        photos=city_photo_inputs,
        metadata=lambda wc: metadata_csv() or [],
    output:
        "results/cities/{city}/photos.tsv",
    params:
        city_dir=lambda wc: city_dir(wc.city),
    log:
        "logs/index_city/{city}.log",
    conda:
        "../../envs/scan.yaml"
    script:
        "../scripts/index_city.py"

"""Realistic postings for the tests (Italian, as most postings will be)."""

VISION_NEED = {
    "kind": "need",
    "title": "Controllo qualità automatico dei difetti superficiali su ingranaggi",
    "description": (
        "Siamo un'azienda di Modena che produce ingranaggi in acciaio per macchine agricole, "
        "circa 400.000 pezzi all'anno. Cerchiamo un sistema di visione artificiale per rilevare "
        "in linea difetti superficiali (cricche, bave, graffi) sui pezzi lavorati, con una cadenza "
        "di due pezzi al secondo, per sostituire il controllo visivo manuale a fine linea."
    ),
    "keywords": ["visione artificiale", "controllo qualità", "difetti superficiali", "ingranaggi"],
    "s3_area": "mechatronics_automotive",
    "trl": 6,
}
VISION_OFFER = {
    "kind": "offer",
    "title": "Visione artificiale e deep learning per l'ispezione dei difetti superficiali",
    "description": (
        "Il laboratorio sviluppa sistemi di visione artificiale basati su reti neurali "
        "convoluzionali per il rilevamento automatico di difetti superficiali su componenti "
        "metallici lavorati: cricche, graffi, bave, porosità. Disponiamo di banchi ottici con "
        "telecamere ad alta velocità e illuminazione strutturata, già validati in linea di "
        "produzione presso aziende meccaniche emiliane."
    ),
    "keywords": ["visione artificiale", "deep learning", "difetti superficiali", "componenti metallici"],
    "s3_area": "mechatronics_automotive",
    "trl": 6,
}
WINE_OFFER = {
    "kind": "offer",
    "title": "Analisi sensoriale e chimica dei vini emiliani",
    "description": (
        "Il laboratorio di enologia offre analisi sensoriale con panel addestrato, "
        "gascromatografia degli aromi e studi di shelf-life per vini fermi e frizzanti, con "
        "supporto alla certificazione DOC e alla valorizzazione dei vitigni autoctoni."
    ),
    "keywords": ["enologia", "analisi sensoriale", "vino", "aromi"],
    "s3_area": "agrifood",
    "trl": 7,
}
MUSEUM_NEED = {
    "kind": "need",
    "title": "Visite virtuali in realtà aumentata per il nostro museo civico",
    "description": (
        "Il museo cerca un partner per digitalizzare in 3D le sale espositive e offrire ai "
        "visitatori percorsi in realtà aumentata su smartphone, in italiano e inglese, entro "
        "la prossima stagione turistica."
    ),
    "keywords": ["realtà aumentata", "museo", "digitalizzazione 3D"],
    "s3_area": "culture_creative",
    "trl": 7,
}
# The lab of VISION_OFFER, writing in English: it must still meet the Italian VISION_NEED.
VISION_OFFER_EN = {
    "kind": "offer",
    "title": "Machine vision and deep learning for surface defect inspection",
    "description": (
        "Our laboratory develops machine vision systems based on convolutional neural networks "
        "for the automatic detection of surface defects on machined metal parts: cracks, "
        "scratches, burrs and porosity. We run optical benches with high-speed cameras and "
        "structured lighting, already validated on production lines at mechanical companies in "
        "Emilia-Romagna, and support quality control teams in moving from manual visual checks."
    ),
    "keywords": ["machine vision", "deep learning", "surface defects", "quality control"],
    "s3_area": "mechatronics_automotive",
    "trl": 6,
}

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

# One lab that solves a problem many companies share, and eight companies writing it their way.
VIBRATION_OFFER = {
    "kind": "offer",
    "title": "Manutenzione predittiva con analisi delle vibrazioni per macchine rotanti",
    "description": (
        "Il laboratorio installa accelerometri e sensori di vibrazione su macchine rotanti "
        "(mandrini, riduttori, pompe, compressori, ventilatori, motori) e sviluppa modelli di "
        "machine learning che riconoscono l'usura di cuscinetti e ingranaggi settimane prima del "
        "guasto, con cruscotti di allerta per la manutenzione e integrazione con i sistemi di fabbrica."
    ),
    "keywords": ["manutenzione predittiva", "analisi vibrazioni", "cuscinetti", "machine learning"],
    "s3_area": "mechatronics_automotive",
    "trl": 6,
}
VIBRATION_NEEDS = [
    (
        "Fermi macchina improvvisi dei mandrini dei centri di lavoro",
        "I mandrini dei nostri centri di lavoro CNC si rompono senza preavviso e ogni fermo costa "
        "giorni di produzione. Vorremmo capire dalle vibrazioni quando i cuscinetti si stanno usurando.",
        ["mandrini", "cuscinetti", "vibrazioni"],
    ),
    (
        "Predicting gearbox failures on our packaging lines",
        "Gearboxes on our packaging lines fail a few times a year and stop the whole plant. We want "
        "sensors and a model that warn us weeks ahead that gears or bearings are wearing out.",
        ["gearbox", "predictive maintenance", "vibration"],
    ),
    (
        "Guasti delle pompe centrifughe nell'impianto di verniciatura",
        "Le pompe centrifughe del nostro impianto si guastano spesso per usura dei cuscinetti. "
        "Cerchiamo un monitoraggio continuo delle vibrazioni che segnali il problema in anticipo.",
        ["pompe", "monitoraggio vibrazioni", "manutenzione"],
    ),
    (
        "Early warning of compressor breakdowns",
        "Our screw compressors break down without warning and compressed air is vital for the "
        "factory. We look for vibration monitoring with machine learning to plan maintenance.",
        ["compressors", "vibration analysis", "maintenance"],
    ),
    (
        "Manutenzione su condizione dei ventilatori industriali",
        "Nei nostri forni i ventilatori di ricircolo girano giorno e notte; quando un cuscinetto "
        "cede perdiamo un intero lotto. Vorremmo sensori di vibrazione e allarmi prima del guasto.",
        ["ventilatori", "cuscinetti", "manutenzione predittiva"],
    ),
    (
        "Bearing wear on electric motors of our conveyor belts",
        "Electric motors driving our conveyor belts fail because of bearing wear, and we replace "
        "them only after they break. We need vibration sensors and predictive maintenance.",
        ["electric motors", "bearings", "predictive maintenance"],
    ),
    (
        "Prevedere l'usura dei riduttori delle presse",
        "Le presse della nostra stamperia montano riduttori che si usurano in modo imprevedibile. "
        "Cerchiamo un sistema che analizzi le vibrazioni e stimi quando intervenire.",
        ["riduttori", "presse", "analisi vibrazioni"],
    ),
    (
        "Vibration monitoring to stop unplanned downtime of our mixers",
        "The motors, gearboxes and bearings of our industrial mixers wear out and cause unplanned "
        "downtime. We look for vibration sensors and machine learning that predict a failure weeks "
        "ahead and alert the maintenance team.",
        ["predictive maintenance", "vibration analysis", "bearings"],
    ),
]

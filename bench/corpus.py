"""Realistic, distinct postings for the benchmarks, generated deterministically from a seed.

Each theme is one kind of problem a regional company has and the kind of lab that solves it,
in one of the 8 S3 areas; the themes follow the demo's offers, so a generated need clearly fits
one of them. A posting is a theme's template (English or Italian) filled with a varied object,
material or process, volumes, places, deadlines, budgets and keywords: two postings never share
their text, and every one is a valid `POST /api/v1/postings` body.

    from bench.corpus import postings, latency_needs
    postings(2000, seed=7)      # needs and offers over all areas, ~1/3 Italian
    latency_needs(60, seed=7)   # needs only, each written to fit a demo offer
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

CITIES = (
    "Bologna", "Modena", "Reggio Emilia", "Parma", "Piacenza", "Ferrara", "Ravenna", "Forlì",
    "Cesena", "Rimini", "Imola", "Carpi", "Sassuolo", "Faenza", "Fidenza", "Lugo",
)  # fmt: skip


@dataclass(frozen=True)
class Theme:
    area: str
    # (english, italian) object phrases, plural, without article
    objects: tuple[tuple[str, str], ...]
    need_titles: tuple[tuple[str, str], ...]  # (en, it) with {obj}
    need_bodies: tuple[tuple[str, str], ...]  # (en, it) with {obj} {n} {city} {months} {budget}
    offer_titles: tuple[tuple[str, str], ...]
    offer_bodies: tuple[tuple[str, str], ...]
    keywords: tuple[tuple[str, str], ...]  # (en, it)
    trl: tuple[int, int]


THEMES: tuple[Theme, ...] = (
    Theme(
        "mechatronics_automotive",
        (
            ("machined valve bodies", "corpi valvola lavorati"), ("steel gears", "ingranaggi in acciaio"),
            ("forged flanges", "flange forgiate"), ("die-cast aluminium housings", "carter pressofusi in alluminio"),
            ("turned shafts", "alberi torniti"), ("pump casings", "corpi pompa"),
            ("brake calipers", "pinze freno"), ("sintered bushings", "boccole sinterizzate"),
            ("hydraulic cylinders", "cilindri oleodinamici"), ("stamped brackets", "staffe stampate"),
        ),
        (
            ("Automatic inspection of surface defects on {obj}", "Controllo automatico dei difetti superficiali su {obj}"),
            ("Inline visual quality control for {obj}", "Controllo qualità visivo in linea per {obj}"),
            ("Replacing manual end-of-line inspection of {obj} with machine vision", "Sostituire il controllo visivo manuale di {obj} con la visione artificiale"),
        ),
        (
            (
                "We machine about {n} {obj} a year in our plant near {city}. Scratches, burrs, cracks and porosity are found today by operators at the end of the line, and some defective parts still reach customers. We are looking for a machine vision system, possibly with deep learning, that detects surface defects inline at our cycle time and flags the rejected parts. A prototype should run on one line within {months} months; indicative budget {budget} euro.",
                "Produciamo circa {n} {obj} all'anno nello stabilimento vicino a {city}. Graffi, bave, cricche e porosità vengono oggi individuati dagli operatori a fine linea e alcuni pezzi difettosi arrivano ancora ai clienti. Cerchiamo un sistema di visione artificiale, anche con deep learning, che rilevi in linea i difetti superficiali al nostro tempo ciclo e segnali gli scarti. Un prototipo dovrebbe funzionare su una linea entro {months} mesi; budget indicativo {budget} euro.",
            ),
            (
                "Our customers in the automotive supply chain ask for zero-defect deliveries of {obj}. We produce {n} pieces a year in {city} and inspect them by eye under a lamp, which is slow and inconsistent between shifts. We need a partner to design an optical inspection station with cameras and structured lighting that classifies surface defects on metal parts automatically, and to validate it on our production within {months} months.",
                "I nostri clienti della filiera automotive chiedono forniture di {obj} a zero difetti. Ne produciamo {n} pezzi all'anno a {city} e il controllo avviene a vista sotto una lampada: lento e diverso da un turno all'altro. Cerchiamo un partner che progetti una stazione di ispezione ottica con telecamere e illuminazione strutturata, capace di classificare automaticamente i difetti superficiali dei componenti metallici, e che la validi sulla nostra produzione entro {months} mesi.",
            ),
        ),
        (
            ("Machine vision and deep learning for surface inspection of {obj}", "Visione artificiale e deep learning per l'ispezione superficiale di {obj}"),
        ),
        (
            (
                "The lab develops machine vision systems based on convolutional neural networks for automatic detection of surface defects on {obj} and other machined metal parts: cracks, scratches, burrs, porosity. We have optical benches with high-speed cameras, photometric stereo and structured lighting, and anomaly detection models trained with few defective samples, validated on production lines of mechanical companies in {city}.",
                "Il laboratorio sviluppa sistemi di visione artificiale basati su reti neurali convoluzionali per il rilevamento automatico di difetti superficiali su {obj} e altri componenti metallici lavorati: cricche, graffi, bave, porosità. Disponiamo di banchi ottici con telecamere ad alta velocità, photometric stereo e illuminazione strutturata, e di modelli di anomaly detection addestrati con pochi campioni difettosi, validati su linee di produzione di aziende meccaniche di {city}.",
            ),
        ),
        (
            ("machine vision", "visione artificiale"), ("surface defects", "difetti superficiali"),
            ("quality control", "controllo qualità"), ("inline inspection", "ispezione in linea"),
            ("deep learning", "deep learning"), ("anomaly detection", "anomaly detection"),
        ),
        (5, 8),
    ),
    Theme(
        "mechatronics_automotive",
        (
            ("hydraulic manifold blocks", "blocchi distributori oleodinamici"), ("heat exchanger cores", "nuclei di scambiatori di calore"),
            ("turbine brackets", "staffe per turbine"), ("gearbox housings", "scatole cambio"),
            ("injection mould inserts", "inserti per stampi a iniezione"), ("pneumatic valve blocks", "blocchi valvole pneumatiche"),
        ),
        (
            ("Lighter, more compact {obj}", "{obj} più leggeri e compatti"),
            ("Redesigning {obj} for additive manufacturing", "Riprogettare {obj} per la manifattura additiva"),
        ),
        (
            (
                "Our {obj} are machined from solid steel and weigh too much for the new machines our customers build. We make about {n} a year in {city}. We would like to redesign them with topology optimisation and print them in metal with laser powder bed fusion, with internal channels that drilling cannot make, then qualify them with pressure and fatigue tests. First prototypes within {months} months, budget {budget} euro.",
                "I nostri {obj} sono ricavati dal pieno in acciaio e pesano troppo per le nuove macchine dei clienti. Ne produciamo circa {n} all'anno a {city}. Vorremmo riprogettarli con l'ottimizzazione topologica e stamparli in metallo con fusione laser a letto di polvere, con canali interni impossibili da forare, e qualificarli con prove di pressione e di fatica. Primi prototipi entro {months} mesi, budget {budget} euro.",
            ),
        ),
        (
            ("Metal additive manufacturing (L-PBF) and topology optimisation for {obj}", "Manifattura additiva metallica (L-PBF) e ottimizzazione topologica per {obj}"),
        ),
        (
            (
                "We design and print metal parts with laser powder bed fusion: topology optimisation, conformal internal channels, heat treatment and machining of functional surfaces. The lab qualifies printed {obj} with burst and pressure testing, fatigue testing and CT scans, and supports companies in {city} from the first redesign to certified series production.",
                "Progettiamo e stampiamo componenti metallici con fusione laser a letto di polvere: ottimizzazione topologica, canali interni conformati, trattamenti termici e lavorazione delle superfici funzionali. Il laboratorio qualifica {obj} stampati con prove di scoppio e di pressione, prove di fatica e tomografia, e accompagna le aziende di {city} dalla prima riprogettazione alla produzione di serie certificata.",
            ),
        ),
        (
            ("additive manufacturing", "manifattura additiva"), ("topology optimisation", "ottimizzazione topologica"),
            ("L-PBF", "L-PBF"), ("weight reduction", "riduzione del peso"), ("pressure testing", "prove di pressione"),
        ),
        (5, 7),
    ),
    Theme(
        "agrifood",
        (
            ("aged cheese wheels", "forme di formaggio stagionato"), ("whole melons", "meloni interi"),
            ("cured hams", "prosciutti stagionati"), ("watermelons", "angurie"),
            ("chestnuts", "castagne"), ("pears", "pere"), ("walnuts", "noci"), ("salami", "salami"),
        ),
        (
            ("Finding internal defects in {obj} without cutting them", "Individuare difetti interni in {obj} senza tagliarli"),
            ("Non-destructive quality grading of {obj}", "Classificazione non distruttiva della qualità di {obj}"),
        ),
        (
            (
                "We handle about {n} {obj} a year in our warehouse near {city}. Internal defects such as cracks, cavities and rot are found today only by tapping or by cutting samples, and often only after sale, with complaints and downgrading. We need a non-destructive inspection method, usable in the warehouse or on a dedicated bench, that classifies every piece in under a minute. Budget {budget} euro, prototype within {months} months.",
                "Gestiamo circa {n} {obj} all'anno nel magazzino vicino a {city}. I difetti interni come spaccature, cavità e marciumi vengono scoperti solo con la battitura o tagliando campioni, e spesso dopo la vendita, con contestazioni e declassamenti. Cerchiamo un metodo di controllo non distruttivo, utilizzabile in magazzino o su un banco dedicato, che classifichi ogni pezzo in meno di un minuto. Budget {budget} euro, prototipo entro {months} mesi.",
            ),
        ),
        (
            ("Non-destructive inspection of {obj} with ultrasound and hyperspectral imaging", "Ispezione non distruttiva di {obj} con ultrasuoni e imaging iperspettrale"),
        ),
        (
            (
                "The lab inspects food products without damaging them: ultrasound, hyperspectral imaging and instrumented acoustic percussion, with machine learning models that grade internal defects of {obj} and similar food matrices. We build benches for warehouses and sorting lines and validate them against destructive tests on samples from producers around {city}.",
                "Il laboratorio ispeziona i prodotti alimentari senza danneggiarli: ultrasuoni, imaging iperspettrale e percussione acustica strumentata, con modelli di machine learning che classificano i difetti interni di {obj} e di matrici alimentari simili. Realizziamo banchi per magazzini e linee di cernita e li validiamo con prove distruttive su campioni di produttori della zona di {city}.",
            ),
        ),
        (
            ("non-destructive testing", "controllo non distruttivo"), ("internal defects", "difetti interni"),
            ("ultrasound", "ultrasuoni"), ("hyperspectral imaging", "imaging iperspettrale"), ("food quality", "qualità alimentare"),
        ),
        (5, 7),
    ),
    Theme(
        "agrifood",
        (
            ("processing tomato", "pomodoro da industria"), ("durum wheat", "grano duro"), ("sugar beet", "barbabietola da zucchero"),
            ("wine grapes", "uva da vino"), ("peaches", "pesche"), ("soybeans", "soia"),
        ),
        (
            ("Forecasting {obj} deliveries from contracted growers", "Prevedere i conferimenti di {obj} dei produttori conferenti"),
            ("Yield prediction for {obj} to plan the harvest", "Previsione delle rese di {obj} per pianificare la raccolta"),
        ),
        (
            (
                "We process about {n} tonnes of {obj} a year from contracted growers around {city}. Each season the plant is either idle or overloaded because we cannot predict how much will be delivered each week. We need yield and ripening forecasts per field, weeks ahead, from satellite images, weather data and crop models, to plan intake and shifts. Pilot on the next season within {months} months.",
                "Trasformiamo circa {n} tonnellate di {obj} all'anno dai produttori conferenti attorno a {city}. Ogni stagione lo stabilimento è fermo o sovraccarico perché non sappiamo prevedere quanto verrà conferito ogni settimana. Cerchiamo previsioni di resa e maturazione per campo, con settimane di anticipo, da immagini satellitari, dati meteo e modelli colturali, per pianificare ricevimento e turni. Pilota sulla prossima campagna entro {months} mesi.",
            ),
        ),
        (
            ("Yield and ripening prediction for {obj} from satellite data and crop models", "Previsione di resa e maturazione di {obj} da dati satellitari e modelli colturali"),
        ),
        (
            (
                "The lab combines Sentinel-2 remote sensing, weather stations and calibrated crop models to predict yield and ripening dates of {obj} field by field. We deliver weekly harvest forecasts to processors and cooperatives, validated over several seasons in the Po valley around {city}, and help plan intake and harvest scheduling.",
                "Il laboratorio combina telerilevamento Sentinel-2, stazioni meteo e modelli colturali calibrati per prevedere resa e data di maturazione di {obj} campo per campo. Forniamo previsioni settimanali della raccolta a industrie di trasformazione e cooperative, validate su più campagne in pianura padana attorno a {city}, e aiutiamo a pianificare ricevimento e raccolta.",
            ),
        ),
        (
            ("yield prediction", "previsione delle rese"), ("remote sensing", "telerilevamento"),
            ("crop model", "modello colturale"), ("harvest planning", "pianificazione della raccolta"), ("Sentinel-2", "Sentinel-2"),
        ),
        (5, 8),
    ),
    Theme(
        "construction",
        (
            ("retrofitted schools", "scuole adeguate sismicamente"), ("masonry bridges", "ponti in muratura"),
            ("historic churches", "chiese storiche"), ("hospital buildings", "edifici ospedalieri"),
            ("industrial sheds", "capannoni industriali"), ("residential towers", "torri residenziali"),
        ),
        (
            ("Continuous structural monitoring of {obj}", "Monitoraggio strutturale continuo di {obj}"),
            ("Sensors to check the health of {obj} after earthquakes", "Sensori per verificare lo stato di {obj} dopo i terremoti"),
        ),
        (
            (
                "We have retrofitted {n} {obj} in the province of {city} and the owners now ask for continuous monitoring of their structural behaviour, to know quickly after an earthquake whether they are safe. We need a low-cost sensor network with accelerometers, operational modal analysis and damage indices, with alerts to the technical office. Tender deadline in {months} months, budget {budget} euro.",
                "Abbiamo adeguato sismicamente {n} {obj} in provincia di {city} e i committenti chiedono ora un monitoraggio continuo del comportamento strutturale, per sapere subito dopo un terremoto se sono agibili. Cerchiamo una rete di sensori a basso costo con accelerometri, analisi modale operativa e indici di danno, con allarmi all'ufficio tecnico. Scadenza della gara tra {months} mesi, budget {budget} euro.",
            ),
        ),
        (
            ("Structural health monitoring of {obj} with MEMS sensor networks", "Monitoraggio strutturale di {obj} con reti di sensori MEMS"),
        ),
        (
            (
                "The lab designs structural health monitoring systems with networks of MEMS accelerometers, operational modal analysis and damage indices for {obj} and other structures, with automatic alerts after seismic events. We have monitored public buildings in {city} for years and support designers from sensor layout to the interpretation of data.",
                "Il laboratorio progetta sistemi di monitoraggio strutturale con reti di accelerometri MEMS, analisi modale operativa e indici di danno per {obj} e altre strutture, con allarmi automatici dopo gli eventi sismici. Monitoriamo da anni edifici pubblici a {city} e affianchiamo i progettisti dalla disposizione dei sensori all'interpretazione dei dati.",
            ),
        ),
        (
            ("structural health monitoring", "monitoraggio strutturale"), ("MEMS accelerometers", "accelerometri MEMS"),
            ("seismic retrofit", "adeguamento sismico"), ("modal analysis", "analisi modale"), ("sensors", "sensori"),
        ),
        (6, 8),
    ),
    Theme(
        "construction",
        (
            ("porcelain stoneware tiles", "piastrelle in gres porcellanato"), ("ceramic roof tiles", "coppi in laterizio"),
            ("clay bricks", "mattoni in laterizio"), ("sanitary ware", "sanitari in ceramica"), ("glazed wall tiles", "rivestimenti smaltati"),
        ),
        (
            ("More recycled material in our {obj}", "Più materia riciclata nei nostri {obj}"),
            ("Using secondary raw materials in {obj} to meet green procurement criteria", "Usare materie prime seconde nei {obj} per rispettare i CAM"),
        ),
        (
            (
                "We produce about {n} square metres of {obj} a year near {city}. Public tenders now require minimum recycled content under green procurement criteria, and our body mix contains too little. We need a partner to formulate ceramic bodies with secondary raw materials such as glass cullet, fired scrap and sludge, keeping strength, water absorption and colour. Trials on our line within {months} months.",
                "Produciamo circa {n} metri quadri all'anno di {obj} vicino a {city}. Le gare pubbliche chiedono ora un contenuto minimo di riciclato secondo i CAM e il nostro impasto ne contiene troppo poco. Cerchiamo un partner per formulare impasti ceramici con materie prime seconde come rottame di vetro, scarti cotti e fanghi, mantenendo resistenza, assorbimento d'acqua e colore. Prove sulla nostra linea entro {months} mesi.",
            ),
        ),
        (
            ("Formulating {obj} with secondary raw materials", "Formulazione di {obj} con materie prime seconde"),
        ),
        (
            (
                "The lab formulates ceramic bodies and binders with secondary raw materials, characterises industrial residues and tests fired {obj} for strength, water absorption and durability. We help manufacturers of the ceramic district around {city} reach the recycled content required by green public procurement criteria.",
                "Il laboratorio formula impasti ceramici e leganti con materie prime seconde, caratterizza i residui industriali e prova {obj} cotti per resistenza, assorbimento d'acqua e durabilità. Aiutiamo i produttori del distretto ceramico attorno a {city} a raggiungere il contenuto di riciclato richiesto dai CAM.",
            ),
        ),
        (
            ("recycled content", "materiale riciclato"), ("ceramic bodies", "impasti ceramici"),
            ("circular economy", "economia circolare"), ("secondary raw materials", "materie prime seconde"), ("CAM", "CAM"),
        ),
        (5, 7),
    ),
    Theme(
        "health_wellbeing",
        (
            ("custom insoles", "plantari su misura"), ("wrist splints", "tutori per il polso"), ("ankle braces", "tutori per la caviglia"),
            ("spinal corsets", "corsetti ortopedici"), ("knee orthoses", "ortesi di ginocchio"), ("prosthetic sockets", "invasature protesiche"),
        ),
        (
            ("Digitally made {obj} without plaster casts", "{obj} realizzati in digitale, senza calco in gesso"),
            ("From 3D scan to 3D print for {obj}", "Dalla scansione 3D alla stampa 3D per {obj}"),
        ),
        (
            (
                "Our orthopaedic workshop in {city} makes about {n} {obj} a year from plaster casts and manual shaping. We want a digital workflow: 3D scanning of the patient, parametric design, 3D printing and clinical validation, compliant with the medical device regulation. We need a lab to design and validate the process with us within {months} months.",
                "Il nostro laboratorio ortopedico di {city} realizza circa {n} {obj} all'anno partendo da calchi in gesso e modellazione manuale. Vogliamo un flusso digitale: scansione 3D del paziente, progettazione parametrica, stampa 3D e validazione clinica, conforme al regolamento MDR sui dispositivi medici. Cerchiamo un laboratorio che progetti e validi il processo con noi entro {months} mesi.",
            ),
        ),
        (
            ("Digital design and validation of {obj}: from 3D scanning to MDR compliance", "Progettazione digitale e validazione di {obj}: dalla scansione 3D alla conformità MDR"),
        ),
        (
            (
                "The lab designs custom orthoses and {obj} digitally: 3D scanning, parametric modelling, 3D printing in technical polymers, gait analysis and clinical validation with patients, with the technical file required by the MDR. We work with orthopaedic workshops and hospitals around {city}.",
                "Il laboratorio progetta in digitale ortesi personalizzate e {obj}: scansione 3D, modellazione parametrica, stampa 3D in polimeri tecnici, analisi del cammino e validazione clinica con i pazienti, con il fascicolo tecnico richiesto dal regolamento MDR. Collaboriamo con laboratori ortopedici e ospedali attorno a {city}.",
            ),
        ),
        (
            ("3D scanning", "scansione 3D"), ("3D printing", "stampa 3D"), ("custom orthoses", "ortesi su misura"),
            ("MDR", "MDR"), ("gait analysis", "analisi del cammino"),
        ),
        (5, 7),
    ),
    Theme(
        "culture_creative",
        (
            ("municipal archives", "archivi comunali"), ("parish registers", "registri parrocchiali"), ("notarial deeds", "atti notarili"),
            ("merchant letters", "lettere mercantili"), ("court records", "fascicoli giudiziari"), ("land registers", "catasti storici"),
        ),
        (
            ("Making handwritten {obj} searchable", "Rendere consultabili e ricercabili i {obj} manoscritti"),
            ("Automatic transcription of historical {obj}", "Trascrizione automatica di {obj} storici"),
        ),
        (
            (
                "Our archive in {city} holds about {n} pages of handwritten {obj} from the sixteenth to the nineteenth century. Researchers and citizens can only read them in the reading room. We want to digitise and transcribe them automatically, recognise names and places, and publish a search portal with IIIF viewers. Project start within {months} months, budget {budget} euro.",
                "Il nostro archivio di {city} conserva circa {n} pagine di {obj} manoscritti dal Cinquecento all'Ottocento. Ricercatori e cittadini possono leggerli solo in sala studio. Vogliamo digitalizzarli e trascriverli automaticamente, riconoscere nomi e luoghi e pubblicare un portale di ricerca con visualizzatori IIIF. Avvio del progetto entro {months} mesi, budget {budget} euro.",
            ),
        ),
        (
            ("Handwritten text recognition and semantic enrichment for {obj}", "Riconoscimento della scrittura manoscritta e arricchimento semantico di {obj}"),
        ),
        (
            (
                "The lab trains handwritten text recognition models on historical scripts, transcribes {obj} and other archival series, extracts named entities such as people and places, and publishes them as linked data with IIIF and TEI. We have worked with archives and libraries in {city} on collections of hundreds of thousands of pages.",
                "Il laboratorio addestra modelli di riconoscimento della scrittura manoscritta su grafie storiche, trascrive {obj} e altre serie archivistiche, estrae entità come persone e luoghi e le pubblica come linked data con IIIF e TEI. Abbiamo lavorato con archivi e biblioteche di {city} su fondi di centinaia di migliaia di pagine.",
            ),
        ),
        (
            ("handwritten text recognition", "riconoscimento della scrittura"), ("archives", "archivi"),
            ("transcription", "trascrizione"), ("IIIF", "IIIF"), ("digital humanities", "informatica umanistica"),
        ),
        (5, 7),
    ),
    Theme(
        "services_innovation",
        (
            ("last-mile parcel deliveries", "consegne di pacchi dell'ultimo miglio"), ("pharmacy restocking rounds", "giri di rifornimento delle farmacie"),
            ("home care visits", "visite di assistenza domiciliare"), ("waste collection rounds", "giri di raccolta dei rifiuti"),
            ("technician field visits", "uscite dei tecnici sul territorio"), ("school bus routes", "percorsi degli scuolabus"),
        ),
        (
            ("Cutting the kilometres of our {obj}", "Ridurre i chilometri delle nostre {obj}"),
            ("Route and shift optimisation for {obj}", "Ottimizzazione di percorsi e turni per {obj}"),
        ),
        (
            (
                "We plan about {n} {obj} a day around {city} with spreadsheets and the experience of two dispatchers. Vehicles cross each other, time windows are missed and overtime grows. We need a route optimisation tool with vehicle routing algorithms that handles time windows, vehicle capacities and last-minute changes, integrated with our management software within {months} months.",
                "Pianifichiamo circa {n} {obj} al giorno attorno a {city} con fogli di calcolo e l'esperienza di due pianificatori. I mezzi si incrociano, le finestre orarie saltano e gli straordinari crescono. Cerchiamo uno strumento di ottimizzazione dei percorsi con algoritmi di vehicle routing che gestisca finestre orarie, capacità dei mezzi e cambi dell'ultimo minuto, integrato con il nostro gestionale entro {months} mesi.",
            ),
        ),
        (
            ("Route and shift optimisation: vehicle routing algorithms for {obj}", "Ottimizzazione di percorsi e turni: algoritmi di vehicle routing per {obj}"),
        ),
        (
            (
                "The lab develops operations research methods for logistics: vehicle routing with time windows, metaheuristics and dynamic optimisation that re-plans {obj} when orders change during the day. We have delivered planning tools integrated with the software of logistics and service companies around {city}.",
                "Il laboratorio sviluppa metodi di ricerca operativa per la logistica: vehicle routing con finestre temporali, metaeuristiche e ottimizzazione dinamica che ripianifica {obj} quando gli ordini cambiano durante la giornata. Abbiamo realizzato strumenti di pianificazione integrati con i gestionali di aziende di logistica e servizi attorno a {city}.",
            ),
        ),
        (
            ("vehicle routing", "vehicle routing"), ("route planning", "pianificazione dei percorsi"),
            ("time windows", "finestre orarie"), ("operations research", "ricerca operativa"), ("logistics", "logistica"),
        ),
        (6, 8),
    ),
    Theme(
        "energy_sustainability",
        (
            ("wastewater treatment plants", "depuratori"), ("activated sludge tanks", "vasche a fanghi attivi"),
            ("industrial effluent plants", "impianti di trattamento dei reflui industriali"), ("dairy wastewater plants", "depuratori dei caseifici"),
        ),
        (
            ("Cutting the electricity used by aeration in {obj}", "Tagliare i consumi elettrici dell'aerazione nei {obj}"),
            ("Advanced process control for {obj}", "Controllo avanzato di processo per {obj}"),
        ),
        (
            (
                "We operate {n} {obj} around {city}; aeration blowers take most of their electricity and run at fixed set points day and night. We want advanced control of the oxidation process from ammonia and oxygen sensors, with activated sludge models, to save energy while keeping nitrogen limits. Pilot on one plant within {months} months, budget {budget} euro.",
                "Gestiamo {n} {obj} attorno a {city}; le soffianti dell'aerazione assorbono gran parte dell'energia elettrica e lavorano a set point fissi giorno e notte. Vogliamo un controllo avanzato del processo di ossidazione da sensori di ammoniaca e ossigeno, con modelli dei fanghi attivi, per risparmiare energia rispettando i limiti sull'azoto. Pilota su un impianto entro {months} mesi, budget {budget} euro.",
            ),
        ),
        (
            ("Advanced control and aeration optimisation for {obj}", "Controllo avanzato e ottimizzazione dell'aerazione per {obj}"),
        ),
        (
            (
                "The lab models and controls wastewater treatment: activated sludge models, model predictive control of aeration from ammonia and oxygen sensors, and energy audits of {obj}. Our controllers have cut blower electricity by a fifth on plants around {city} while meeting nitrogen limits.",
                "Il laboratorio modella e controlla la depurazione delle acque reflue: modelli ASM dei fanghi attivi, controllo predittivo dell'aerazione da sensori di ammoniaca e ossigeno e diagnosi energetiche di {obj}. I nostri controllori hanno ridotto di un quinto l'energia delle soffianti su impianti attorno a {city} rispettando i limiti sull'azoto.",
            ),
        ),
        (
            ("wastewater treatment", "depurazione"), ("aeration control", "controllo dell'aerazione"),
            ("energy saving", "risparmio energetico"), ("MPC", "MPC"), ("nitrogen removal", "rimozione dell'azoto"),
        ),
        (6, 8),
    ),
    Theme(
        "energy_sustainability",
        (
            ("roller kilns", "forni a rulli"), ("spray dryers", "atomizzatori"), ("glass furnaces", "forni fusori per vetro"),
            ("forging furnaces", "forni di forgiatura"), ("industrial bakery ovens", "forni per panificazione industriale"),
        ),
        (
            ("Cutting gas use and CO2 emissions of our {obj}", "Ridurre consumi di gas ed emissioni di CO2 dei nostri {obj}"),
            ("Recovering waste heat from {obj}", "Recuperare il calore di scarto dei {obj}"),
        ),
        (
            (
                "Our {n} {obj} near {city} burn natural gas around the clock and the exhaust leaves at high temperature. We need a study of waste-heat recovery, high-temperature heat pumps and hydrogen blends in the burners, with a pinch analysis of the plant and a decarbonisation roadmap we can finance. Results within {months} months, budget {budget} euro.",
                "I nostri {n} {obj} vicino a {city} bruciano gas naturale giorno e notte e i fumi escono ad alta temperatura. Cerchiamo uno studio di recupero del calore di scarto, pompe di calore ad alta temperatura e miscele di idrogeno nei bruciatori, con una pinch analysis dello stabilimento e un percorso di decarbonizzazione finanziabile. Risultati entro {months} mesi, budget {budget} euro.",
            ),
        ),
        (
            ("Industrial process heat for {obj}: waste-heat recovery, heat pumps and hydrogen blends", "Calore di processo per {obj}: recupero termico, pompe di calore e miscele di idrogeno"),
        ),
        (
            (
                "The lab studies industrial process heat: waste-heat recovery from exhaust gases, high-temperature heat pumps, combustion of hydrogen blends and pinch analysis of whole plants such as {obj}. We test burners on our own rig and have drawn decarbonisation roadmaps for manufacturers around {city}.",
                "Il laboratorio studia il calore di processo industriale: recupero del calore dai fumi, pompe di calore ad alta temperatura, combustione di miscele di idrogeno e pinch analysis di interi impianti come {obj}. Proviamo i bruciatori sul nostro banco e abbiamo tracciato percorsi di decarbonizzazione per aziende manifatturiere attorno a {city}.",
            ),
        ),
        (
            ("waste-heat recovery", "recupero di calore"), ("heat pumps", "pompe di calore"),
            ("hydrogen", "idrogeno"), ("decarbonisation", "decarbonizzazione"), ("natural gas", "gas naturale"),
        ),
        (5, 7),
    ),
    Theme(
        "urban_tourism",
        (
            ("seaside hotels", "hotel sulla riviera"), ("mountain lodges", "rifugi di montagna"), ("holiday apartments", "appartamenti per vacanze"),
            ("spa resorts", "centri termali"), ("campsites", "campeggi"), ("agritourism farms", "agriturismi"),
        ),
        (
            ("Forecasting occupancy of our {obj} to set prices ahead", "Prevedere l'occupazione dei nostri {obj} per fissare i prezzi in anticipo"),
            ("Demand prediction and dynamic pricing for {obj}", "Previsione della domanda e prezzi dinamici per {obj}"),
        ),
        (
            (
                "We run {n} {obj} near {city} and set prices by hand each week, looking at what competitors do. Occupancy swings with weather, events and tourist flows, and we often discover too late that a weekend will be full or empty. We need predictive models of demand from booking data, tourist flow and event data, to support revenue management within {months} months.",
                "Gestiamo {n} {obj} vicino a {city} e fissiamo i prezzi a mano ogni settimana guardando i concorrenti. L'occupazione oscilla con meteo, eventi e flussi turistici e scopriamo spesso troppo tardi che un fine settimana sarà pieno o vuoto. Cerchiamo modelli predittivi della domanda da dati di prenotazione, flussi turistici ed eventi, a supporto del revenue management entro {months} mesi.",
            ),
        ),
        (
            ("Tourist flow analysis and predictive models of demand for {obj}", "Analisi dei flussi turistici e modelli predittivi della domanda per {obj}"),
        ),
        (
            (
                "The observatory analyses tourist flows from mobile phone data, bookings and events, and builds predictive models of accommodation demand and occupancy for {obj} and destinations, used for revenue management and dynamic pricing by operators around {city}.",
                "L'osservatorio analizza i flussi turistici da dati di telefonia mobile, prenotazioni ed eventi e costruisce modelli predittivi della domanda ricettiva e dell'occupazione per {obj} e destinazioni, usati per il revenue management e i prezzi dinamici dagli operatori attorno a {city}.",
            ),
        ),
        (
            ("tourist flows", "flussi turistici"), ("occupancy forecasting", "previsione dell'occupazione"),
            ("dynamic pricing", "prezzi dinamici"), ("revenue management", "revenue management"), ("predictive models", "modelli predittivi"),
        ),
        (5, 7),
    ),
)  # fmt: skip


def _fill(rng: random.Random, theme: Theme, obj: str, template: str) -> str:
    return template.format(
        obj=obj,
        n=f"{rng.randrange(12, 990) * 10 ** rng.randrange(1, 4):,}".replace(",", "."),
        city=rng.choice(CITIES),
        months=rng.randrange(4, 25),
        budget=f"{rng.randrange(40, 600) * 1000:,}".replace(",", "."),
    )


def _posting(rng: random.Random, theme: Theme, kind: str, italian: bool) -> dict:
    lang = 1 if italian else 0
    obj = rng.choice(theme.objects)[lang]
    titles, bodies = (
        (theme.need_titles, theme.need_bodies) if kind == "need" else (theme.offer_titles, theme.offer_bodies)
    )
    title = _fill(rng, theme, obj, rng.choice(titles)[lang])
    title = title[0].upper() + title[1:]
    body = _fill(rng, theme, obj, rng.choice(bodies)[lang])
    keywords = [k[lang] for k in rng.sample(theme.keywords, rng.randrange(3, len(theme.keywords) + 1))]
    keywords.insert(rng.randrange(len(keywords) + 1), obj)
    low, high = theme.trl
    return {
        "kind": kind,
        "title": title[:200],
        "description": body,
        "keywords": keywords,
        "s3_area": theme.area,
        "trl": rng.randint(low, high) if rng.random() > 0.1 else None,
        "language": "it" if italian else "en",
    }


def _distinct(make: Iterator[dict], n: int) -> list[dict]:
    seen: set[tuple[str, str]] = set()
    out: list[dict] = []
    for posting in make:
        key = (posting["title"], posting["description"])
        if key not in seen:
            seen.add(key)
            out.append(posting)
            if len(out) == n:
                break
    return out


def postings(n: int, *, seed: int = 7, offer_share: float = 0.4, italian_share: float = 0.35) -> list[dict]:
    """n distinct postings over every theme: needs and offers, Italian and English."""
    rng = random.Random(seed)

    def make() -> Iterator[dict]:
        while True:
            theme = rng.choice(THEMES)
            kind = "offer" if rng.random() < offer_share else "need"
            yield _posting(rng, theme, kind, rng.random() < italian_share)

    return _distinct(make(), n)


def latency_needs(n: int, *, seed: int = 7, italian_share: float = 0.35) -> list[dict]:
    """n distinct needs, the themes taken in turn; each is written to fit a demo offer."""
    rng = random.Random(seed)

    def make() -> Iterator[dict]:
        i = 0
        while True:
            yield _posting(rng, THEMES[i % len(THEMES)], "need", rng.random() < italian_share)
            i += 1

    return _distinct(make(), n)

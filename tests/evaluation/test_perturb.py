"""The perturbed copy of a labelled set: deterministic per seed, same pairs, hurried postings."""

from __future__ import annotations

import json
import random

from api.evaluation.dataset import EvalPosting, EvalSet, load_eval_set
from api.evaluation.perturb import PerturbRates, add_typos, cut_text, perturb, strip_accents, to_json


def _posting(n: int) -> EvalPosting:
    return EvalPosting(
        id=f"p{n}",
        kind="need" if n % 2 else "offer",
        org_name=f"Org {n}",
        org_type="company",
        lang="it",
        s3_area=("agrifood", "construction", "health_wellbeing")[n % 3],
        title="Controllo qualità della saldatura",
        description="Cerchiamo un sistema di visione per la qualità. Il prodotto è già in linea. Serve presto.",
        keywords=("visione artificiale", "qualità"),
        trl=5,
    )


SET = EvalSet("toy", tuple(_posting(n) for n in range(200)), {("p1", "p2"): 2, ("p3", "p0"): 1})


def test_a_seed_gives_one_copy_whatever_the_order_of_the_postings():
    again = EvalSet("toy", tuple(reversed(SET.postings)), SET.grades)
    first = {p.id: p for p in perturb(SET, 7).postings}
    assert first == {p.id: p for p in perturb(again, 7).postings}
    assert first != {p.id: p for p in perturb(SET, 8).postings}


def test_the_copy_keeps_ids_pairs_and_grades_and_changes_about_the_documented_shares():
    rates = PerturbRates()
    copy = perturb(SET, 3, rates)
    assert [p.id for p in copy.postings] == [p.id for p in SET.postings]
    assert copy.grades == SET.grades and "seed 3" in copy.name

    def share(changed) -> float:  # type: ignore[no-untyped-def]
        return sum(changed(p) for p in copy.postings) / len(copy.postings)

    # 200 postings: each share within 0.1 of its rate.
    assert abs(share(lambda p: not p.keywords) - rates.drop_keywords) < 0.1
    assert abs(share(lambda p: p.trl is None) - rates.drop_trl) < 0.1
    assert abs(share(lambda p: p.title == p.title.lower()) - rates.lower_title) < 0.1
    assert abs(share(lambda p: p.s3_area != _posting(int(p.id[1:])).s3_area) - rates.wrong_area) < 0.1
    assert abs(share(lambda p: "à" not in p.title) - rates.strip_accents) < 0.12


def test_no_change_at_zero_rates():
    nothing = PerturbRates(0, 0, 0, 0, 0, 0, 0, 0)
    assert perturb(SET, 1, nothing).postings == SET.postings


def test_text_helpers():
    assert strip_accents("qualità, perché è così") == "qualita, perche e cosi"
    assert cut_text("Prima frase lunga abbastanza. Seconda. Terza.") == "Prima frase lunga abbastanza."
    assert cut_text("uno due tre quattro. cinque sei sette otto nove dieci") == "uno due tre quattro. cinque"
    typed = add_typos("saldatura robotizzata", random.Random(1), share=1.0)
    assert typed != "saldatura robotizzata"
    # One letter swapped, dropped or doubled: the length moves by at most one.
    assert all(
        abs(len(w) - len(o)) <= 1 for w, o in zip(typed.split(), ["saldatura", "robotizzata"], strict=True)
    )
    assert all(w[0] == o[0] for w, o in zip(typed.split(), ["saldatura", "robotizzata"], strict=True))


def test_the_copy_is_written_in_the_format_the_loader_reads(tmp_path):
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(to_json(perturb(SET, 2))))
    loaded = load_eval_set(path)
    assert loaded.postings == perturb(SET, 2).postings and loaded.grades == SET.grades

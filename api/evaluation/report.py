"""The `clustermatch eval` result as tables a person reads."""

from __future__ import annotations

from typing import Any

RANKING_KEYS = ("ndcg@10", "recall@10", "mrr@10")


def format_report(result: dict[str, Any]) -> str:
    lines = [f"dataset: {result['dataset']}", ""]
    header = f"{'system':<14}" + "".join(
        f"{d + ' ' + k:>22}" for d in ("need→offer", "offer→need") for k in RANKING_KEYS
    )
    lines += [header + f"{'cross-lingual R@10':>21}"]
    for name, system in result["systems"].items():
        row = f"{name:<14}"
        for direction in ("need_to_offer", "offer_to_need"):
            row += "".join(f"{system[direction][k]:>22.3f}" for k in RANKING_KEYS)
        lines.append(row + f"{system['cross_lingual_recall@10']:>21.3f}")
    delivery = result["systems"]["clustermatch"].get("delivery")
    if delivery:
        lines += [
            "",
            "delivery (clustermatch, after threshold and caps): "
            + ", ".join(
                f"{k} {delivery[k]:.3f}"
                for k in ("threshold", "precision", "recall", "f1", "no_match_silence")
            )
            + f", {delivery['delivered']} suggestions",
        ]
    return "\n".join(lines)

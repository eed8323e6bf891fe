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
    return "\n".join(lines + _calls_lines(result.get("calls")))


def _calls_lines(calls: dict[str, Any] | None) -> list[str]:
    if not calls:
        return []
    if "skipped" in calls:
        return ["", f"calls: skipped, {calls['skipped']}"]
    ranking, telling, consortia = calls["call_to_posting"], calls["telling"], calls["consortia"]
    lines = [
        "",
        f"calls ({calls['calls']} from {calls['source']}, {calls.get('seconds', 0):.1f} s): call→posting "
        + ", ".join(f"{k} {ranking[k]:.3f}" for k in RANKING_KEYS),
        f"  members told (score ≥ {telling['threshold']:.2f}): {telling['told']}, "
        f"precision {telling['precision']:.3f}, recall {telling['recall']:.3f}",
        f"  consortia: {consortia['groups']} proposed for {consortia['calls_with_groups']} calls; "
        f"satisfy the call's rule {consortia['rule_satisfied']:.1%}; "
        f"all members graded ≥ 1 for the call {consortia['all_members_relevant']:.1%}",
    ]
    lines += [f"  no consortium for {call}: {reason}" for call, reason in sorted(consortia["unmet"].items())]
    return lines

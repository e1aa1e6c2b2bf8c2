"""Profile answers read from free text without an LLM: a table of phrases, each naming the field it answers.

Precision over recall: a phrase only counts when it says the thing plainly ("our docs change weekly", "about 30
examples", "must cite sources"); anything subtler is left to the questions. Each hit keeps the words that
triggered it, so the person sees why an answer was taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.advisor.profile import QUESTION_BY_FIELD


@dataclass(frozen=True)
class Phrase:
    field: str  # flattened profile field, as in profile.QUESTIONS
    value: Any
    pattern: re.Pattern[str]


def _p(field: str, value: Any, regex: str) -> Phrase:
    return Phrase(field, value, re.compile(regex, re.IGNORECASE))


_DOCS = r"(?:docs?|documents?|documentation|knowledge base|wiki|manuals?|policies|catalogu?e|handbook|faqs?)"
_ITEMS = (r"(?:examples?|samples?|pairs?|records?|rows?|tickets?|emails?|conversations?|transcripts?|"
          r"question[- ]answer pairs?|q&as?)")

# Later phrases win over earlier ones for the same field (the more specific ones come last).
PHRASES: tuple[Phrase, ...] = (
    _p("requires_external_knowledge", True,
       rf"\b(?:our|internal|company|private|proprietary|product|customer)\s+(?:\w+\s+)?{_DOCS}\b"),
    _p("requires_external_knowledge", True, r"\b(?:up[- ]to[- ]date|latest|live|current)\s+(?:prices|stock|"
                                            r"inventory|news|information|data|figures)\b"),
    _p("requires_external_knowledge", False, r"\b(?:no|without any)\s+(?:external|outside|private)\s+"
                                             r"(?:knowledge|data|documents?)\b"),
    _p("data_dynamics", "static", r"\b(?:rarely|never|seldom)\s+change[sd]?\b|\bstatic\s+(?:data|docs?|content)\b"),
    _p("data_dynamics", "dynamic", r"\b(?:change[sd]?|updated?|updates|grows?)\s+(?:\w+\s+)?(?:daily|weekly|hourly|"
                                   r"monthly|often|frequently|constantly|all the time|every\s+(?:day|week|month))\b"),
    _p("data_dynamics", "dynamic", r"\b(?:daily|weekly|hourly|frequent|constant)\s+updates?\b"),
    _p("transparency_required", True, r"\bcit(?:e|es|ing|ations?)\b|\b(?:show|give|link|name|quote)\s+(?:the\s+|its\s+"
                                      r"|their\s+)?sources?\b|\baudit(?:able|ors?)?\b|\btraceab\w+"),
    _p("custom_tone_behavior_style", True, r"\b(?:tone|brand voice|our voice|writing style|house style|persona|"
                                           r"json|xml|yaml|strict (?:format|schema)|fixed (?:format|schema)|"
                                           r"template|structured output)\b"),
    _p("hallucination_tolerance", "low", r"\b(?:medical|clinical|legal|compliance|regulated|safety[- ]critical)\b"),
    _p("hallucination_tolerance", "low", r"\b(?:must not|mustn't|can't|cannot|never|must never)\s+(?:ever\s+)?"
                                         r"(?:hallucinate|make (?:things|stuff|anything) up|invent|guess)\b"),
    _p("hallucination_tolerance", "high", r"\b(?:creative|brainstorm\w*|fun|casual)\b.*\b(?:fine|ok|okay|harmless)\b"),
    _p("labeled_data", "none", rf"\b(?:no|zero|don't have any|do not have any)\s+(?:labell?ed\s+)?{_ITEMS}"),
    _p("labeled_data", "count", rf"(?<![\w.])(\d[\d,]*(?:\.\d+)?\s*k?)\+?\s+(?:labell?ed\s+|worked\s+|good\s+|"
                                rf"hand[- ]written\s+|historical\s+|past\s+)?{_ITEMS}\b"),
    _p("labeled_data", "thousands", rf"\b(?:thousands|tens of thousands|millions)\s+of\s+(?:labell?ed\s+)?{_ITEMS}"),
    _p("labeled_data", "hundreds", rf"\bhundreds\s+of\s+(?:labell?ed\s+)?{_ITEMS}"),
    _p("labeled_data", "few", rf"\b(?:a few|a handful of|some|a couple of|a dozen)\s+(?:labell?ed\s+)?{_ITEMS}"),
    _p("task_diversity", "broad", r"\b(?:(?:for|do|answer|handle|about)\s+anything|general[- ]purpose|all kinds of|"
                                  r"many different|wide range of|open[- ]ended)\b"),
    _p("task_diversity", "narrow", r"\b(?:classify|classification|categori[sz]e|extract|extraction|triage|"
                                   r"convert|turn \w+ (?:\w+ )?into)\b"),
    _p("scale_latency_pressure", "high", r"\b(?:millions?|thousands|hundreds of thousands)\s+of\s+(?:requests|calls|"
                                         r"queries|messages|users|documents)\b|\blow[- ]latency\b|\breal[- ]time\b|"
                                         r"\b(?:too )?(?:slow|expensive|costly)\b.*\b(?:gpt|api|model)\b"),
    _p("scale_latency_pressure", "low", r"\ba (?:few|handful of) (?:requests|calls|times|queries) (?:a|per) "
                                        r"(?:day|week)\b"),
    _p("cost_complexity_expertise.budget", "low", r"\b(?:low|small|tight|limited|tiny|no)\s+budget\b|\bcheap\w*\b"),
    _p("cost_complexity_expertise.budget", "high", r"\b(?:big|large|generous|healthy)\s+budget\b"),
    _p("cost_complexity_expertise.finetuning_experience", False,
       r"\b(?:never|not|haven't|have not)\s+(?:\w+\s+)?fine[- ]?tuned\b|\bnew to (?:fine[- ]?tuning|ml|machine "
       r"learning|llms?)\b"),
    _p("cost_complexity_expertise.finetuning_experience", True,
       r"\b(?:we|i)\s+(?:have\s+|'ve\s+)?(?:already\s+)?fine[- ]?tuned\b|"
       r"\bexperience\s+(?:with|in)\s+fine[- ]?tuning\b"),
    _p("cost_complexity_expertise.search_expertise", True,
       r"\b(?:we|i)\s+(?:already\s+)?(?:run|have|use|built)\s+(?:a\s+|an\s+)?(?:search|elasticsearch|opensearch|"
       r"vector (?:db|database|store)|retrieval|rag)\b"),
)


@dataclass(frozen=True)
class Hint:
    field: str
    value: Any
    evidence: str  # the words that triggered it


def _count_to_level(text: str) -> str:
    number = text.lower().replace(",", "").replace(" ", "")
    amount = float(number[:-1]) * 1000 if number.endswith("k") else float(number)
    return "none" if amount == 0 else "few" if amount < 100 else "hundreds" if amount < 1000 else "thousands"


def read_profile_hints(text: str) -> list[Hint]:
    """The answers the text states plainly, one per field (the last phrase that matched wins)."""
    found: dict[str, Hint] = {}
    for phrase in PHRASES:
        match = phrase.pattern.search(text)
        if match is None:
            continue
        value = _count_to_level(match.group(1)) if phrase.value == "count" else phrase.value
        found[phrase.field] = Hint(phrase.field, value, " ".join(match.group(0).split()))
    return list(found.values())


def describe_hints(hints: list[Hint]) -> str:
    """'From your message I noted:' and one line per answer with the words it came from (Markdown)."""
    lines = ["From your message I noted:"]
    for hint in hints:
        labels = dict((value, label) for label, value in QUESTION_BY_FIELD[hint.field].choices)
        question = QUESTION_BY_FIELD[hint.field].text.rstrip("?")
        lines.append(f"- {question}: **{labels.get(hint.value, hint.value)}** (from “{hint.evidence}”)")
    lines.append("Say so if I got one wrong; you can change any answer with the quick replies.")
    return "\n".join(lines)

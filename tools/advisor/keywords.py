"""Profile answers read from free text without an LLM: a table of phrases, each naming the field it answers.

Precision over recall: a phrase only counts when it says the thing plainly ("our docs change weekly", "about 30
examples", "must cite sources"); anything subtler is left to the questions. Each hit keeps the words that
triggered it, so the person sees why an answer was taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.advisor.profile import QUESTION_BY_FIELD, choice_label


@dataclass(frozen=True)
class Phrase:
    field: str  # flattened profile field, as in profile.QUESTIONS
    value: Any
    pattern: re.Pattern[str]


def _p(field: str, value: Any, regex: str) -> Phrase:
    return Phrase(field, value, re.compile(regex, re.IGNORECASE))


_DOCS = (r"(?:docs?|documents?|documentation|knowledge base|wiki|manuals?|policies|catalogu?e|handbook|faqs?|"
         r"guidelines|leaflets|library|schema|papers|crm|contracts?|records? system)")
_ITEMS = (r"(?:examples?|samples?|pairs?|records?|rows?|tickets?|emails?|conversations?|transcripts?|descriptions|"
          r"invoices|reports|replies|answers|summaries|notes|reviews|lines|calls|ndas|translations|sentences|"
          r"question[- ]answer pairs?|q&as?)")
_PER_TIME = r"(?:a|an|per|each|every)\s+(?:day|week|month|hour|minute|second|year)"
_NOT_A_RATE = rf"(?!\s+{_PER_TIME})"  # "10k calls a day" is volume, not labelled data
_ADJ = r"(?:[\w-]+\s+){0,2}"  # up to two words between a number and what it counts ("300 approved", "30k sentence")
_PREFER = r"\b(?:we|i)(?:\s+(?:want|would like|plan|are planning|intend|hope)|'d like)\s+to\s+"

# Later phrases win over earlier ones for the same field (the more specific ones come last).
PHRASES: tuple[Phrase, ...] = (
    _p("requires_external_knowledge", True,
       rf"\b(?:our|internal|company|private|proprietary|product|customer|lead's)\s+(?:[\w,-]+\s+){{0,2}}{_DOCS}\b"),
    _p("requires_external_knowledge", True, r"\b(?:up[- ]to[- ]date|latest|live|current)\s+(?:stock\s+)?(?:prices|"
                                            r"stock|inventory|news|information|data|figures)\b|\bnews feeds?\b|"
                                            r"\b(?:prices|stock levels?|inventory)\b.{0,30}\bchange|"
                                            r"\bafter (?:its|the model's) training\b|\bfacts about our\b"),
    _p("requires_external_knowledge", False, r"\b(?:no|without any|needs no)\s+(?:external|outside|private)\s+"
                                             r"(?:knowledge|data|documents?|material|sources?)\b|"
                                             r"\bno\s+(?:documents|docs)\s+to\s+(?:search|retrieve)\b"),
    _p("data_dynamics", "static", r"\b(?:rarely|never|seldom)\s+change[sd]?\b|\bstatic\s+(?:data|docs?|content)\b"),
    _p("data_dynamics", "dynamic", r"\b(?:change[sd]?|updated?|updates|grows?)\s+(?:\w+\s+)?(?:daily|weekly|hourly|"
                                   r"monthly|often|frequently|constantly|all the time|every\s+(?:day|week|month|"
                                   r"sprint|release))\b|\b(?:latest|live)\s+(?:stock\s+)?(?:news|prices|stock|data|"
                                   r"figures|scores)\b"),
    _p("data_dynamics", "dynamic", r"\b(?:daily|weekly|hourly|frequent|constant)\s+updates?\b"),
    _p("transparency_required", True, r"\bcit(?:e|es|ed|ing|ations?)\b|\b(?:show|give|link|name|quote)\s+(?:the\s+|"
                                      r"its\s+|their\s+)?sources?\b|\baudit(?:able|ors?)?\b|\btraceab\w+|"
                                      r"\blinks?\s+to\s+the\s+(?:page|source|document)|\bshows?\s+(?:the\s+|its\s+)?"
                                      r"(?:reasoning|working|steps)\b|\bexplain\w*\s+(?:why|the reasoning)\b"),
    _p("custom_tone_behavior_style", True, r"\b(?:tone|brand voice|our voice|writing style|house style|persona|"
                                           r"json|xml|yaml|strict (?:format|schema)|fixed (?:format|schema)|"
                                           r"template|structured output|dialect|register|vocabulary|jargon|"
                                           r"response style|report (?:format|style)|strict conventions|"
                                           r"[\w]+-speak)\b"),
    _p("custom_tone_behavior_style", False, r"\bno (?:special|particular|specific) (?:format|tone|style)\b"),
    _p("hallucination_tolerance", "low", r"\b(?:medical|clinical|legal|compliance|regulated|safety[- ]critical)\b"),
    _p("hallucination_tolerance", "low", r"\b(?:must not|mustn't|can't|cannot|never|must never)\s+(?:ever\s+)?"
                                         r"(?:hallucinate|make (?:things|stuff|anything) up|invent|guess)\b|"
                                         r"\b(?:mistakes|errors|wrong \w+)\s+(?:are|would be)\s+(?:very\s+)?"
                                         r"(?:costly|expensive|dangerous|unacceptable)\b"),
    _p("hallucination_tolerance", "high", r"\b(?:creative|brainstorm\w*|fun|casual)\b.*\b(?:fine|ok|okay|harmless)\b|"
                                          r"\b(?:made[- ]up|odd|wrong)\s+(?:\w+\s+)?(?:is|are)\s+(?:fine|ok|okay|"
                                          r"harmless)\b"),
    _p("labeled_data", "none", rf"\b(?:no|zero|don't have any|do not have any)\s+(?:labell?ed\s+)?{_ITEMS}"),
    _p("labeled_data", "count", rf"(?<![\w.,])(\d[\d,]*(?:\.\d+)?\s*k?)\+?\s+(?!million|thousand|hundred){_ADJ}"
                                rf"{_ITEMS}\b{_NOT_A_RATE}"),
    _p("labeled_data", "thousands", rf"\b(?:thousands|tens of thousands|millions)\s+of\s+{_ADJ}{_ITEMS}\b"
                                    rf"{_NOT_A_RATE}"),
    _p("labeled_data", "hundreds", rf"\bhundreds\s+of\s+{_ADJ}{_ITEMS}\b{_NOT_A_RATE}"),
    _p("labeled_data", "few", rf"\b(?:a few|a handful of|some|a couple of|a dozen)\s+(?:labell?ed\s+)?{_ITEMS}\b"
                              rf"{_NOT_A_RATE}"),
    _p("task_diversity", "broad", r"\b(?:(?:for|do|answer|handle|about)\s+anything|general[- ]purpose|all kinds of|"
                                  r"many different|wide range of|open[- ]ended)\b"),
    _p("task_diversity", "moderate", r"\b(?:a few|several|some)\s+related\b"),
    _p("task_diversity", "narrow", r"\b(?:classify|classification|categori[sz]e|extract|extraction|triage|"
                                   r"convert|turn \w+ (?:\w+ )?into)\b"),
    _p("task_diversity", "narrow", r"\b(?:one|a single|only one|this one)\s+(?:narrow\s+|specific\s+)?(?:task|job)\b|"
                                   r"\bnarrow (?:task|job)\b|\b(?:its|the) only (?:job|task|thing)\b|"
                                   r"\bit only \w+s\b"),
    _p("scale_latency_pressure", "high", r"\bmillions? of\b|\b(?:hundreds of )?thousands\s+of\s+(?:requests|calls|"
                                         r"queries|messages|users|documents)\b|\blow[- ]latency\b|\breal[- ]time\b|"
                                         r"\b(?:too )?(?:slow|expensive|costly)\b.*\b(?:gpt|api|model)\b|"
                                         r"\b(?:gpt[\w.-]*|the api|the model)\s+is\s+too\s+(?:slow|expensive)\b|"
                                         r"\b(?:high|heavy|huge|large)\s+(?:volume|traffic|load)\b|"
                                         r"\bhigh[- ]volume\b|\blatency matters\b|"
                                         rf"\b\d[\d,.]*\s*(?:k|m|million)\s+(?:[\w-]+\s+){{0,2}}{_PER_TIME}\b"),
    _p("scale_latency_pressure", "medium", r"\bmoderate (?:number of (?:calls|requests|queries)|volume|traffic)\b"),
    _p("scale_latency_pressure", "low", r"\ba (?:few|handful of)(?: hundred)?(?:\s+\w+)?\s+(?:a|per)\s+"
                                        r"(?:day|week|month)\b|\boccasional(?:ly)?\b"),
    _p("cost_complexity_expertise.budget", "low", r"\b(?:low|small|tight|limited|tiny|no)\s+budget\b|\bcheap\w*\b"),
    _p("cost_complexity_expertise.budget", "high", r"\b(?:big|large|generous|healthy)\s+budget\b"),
    _p("cost_complexity_expertise.finetuning_experience", False,
       r"\b(?:never|not|haven't|have not)\s+(?:\w+\s+)?fine[- ]?tuned\b|\bnew to (?:fine[- ]?tuning|ml|machine "
       r"learning|llms?)\b|\bno (?:ml|machine learning|ai) experience\b"),
    _p("cost_complexity_expertise.finetuning_experience", True,
       r"\b(?:we|i)(?:\s+have|'ve)?\s+(?:already\s+)?fine[- ]?tuned\b|"
       r"\bexperience\s+(?:with|in)\s+fine[- ]?tuning\b"),
    _p("cost_complexity_expertise.search_expertise", False, r"\bno (?:ml|machine learning|ai|search) experience\b"),
    _p("cost_complexity_expertise.search_expertise", True,
       r"\b(?:we|i)\s+(?:already\s+)?(?:run|have|use|built)\s+(?:a\s+|an\s+)?(?:search|elasticsearch|opensearch|"
       r"vector (?:db|database|store)|retrieval|rag)\b|\bour search team\b"),
    _p("preferred_approach", "fine-tune", rf"{_PREFER}fine[- ]?tune\b"),
    _p("preferred_approach", "rag", rf"{_PREFER}(?:use\s+)?(?:rag|retrieval)\b|\b(?:we|i)\s+want\s+rag\b"),
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
        question = QUESTION_BY_FIELD.get(hint.field)
        topic = question.topic if question else "Approach you have in mind"
        lines.append(f"- {topic}: **{choice_label(hint.field, hint.value)}** (from “{hint.evidence}”)")
    lines.append("Say so if I got one wrong; you can change any answer with the quick replies.")
    return "\n".join(lines)

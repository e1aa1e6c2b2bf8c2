"""Data and a request-aware OpenAI-compatible stub for the end-to-end journey (support email -> JSON ticket).

Every sample is built from its own name, product, issue and day, so no two are near-duplicates of each other
and the stub can answer any number of batches with 20 new, valid samples each.
"""
from __future__ import annotations

import json
from typing import Any

from tests.openai_stub import OpenAIStub, Reply

INSTRUCTION = "Turn this support email into a JSON ticket."
NAMES = ["Ada Park", "Bruno Silva", "Chloe Ng", "Dmitri Orlov", "Esme Hart", "Farid Haddad", "Greta Lund",
         "Hiro Sato", "Ines Moreau", "Jonas Berg", "Kemi Okafor", "Luca Romano", "Maya Cohen", "Nils Eriksen",
         "Olga Petrova", "Pablo Ruiz", "Quinn Doyle", "Rosa Lima", "Sven Dahl", "Tara Singh", "Umar Farouk",
         "Vera Novak", "Wen Li", "Ximena Cruz", "Yusuf Demir", "Zoe Martin", "Amir Tehrani", "Bea Jansen",
         "Cyrus Vance", "Dana Weiss", "Eli Brooks", "Fay Wong", "Gus Lindqvist", "Hana Kim", "Ivo Marek",
         "Jade Fox", "Kai Meyer", "Lena Vogel", "Milo Grant", "Nora Quist", "Otto Kranz", "Pia Holm",
         "Rafi Aziz", "Sara Bloom", "Theo Laine"]
PRODUCTS = ["espresso machine", "trail backpack", "desk lamp", "wireless earbuds", "yoga mat", "rice cooker",
            "e-reader", "standing desk", "air purifier"]
# (what went wrong, ticket category, ticket priority)
ISSUES = [("arrived with a cracked lid", "damaged", "high"), ("was charged twice", "billing", "high"),
          ("has not shipped after ten days", "shipping", "medium"),
          ("stops working after an hour", "defect", "high"),
          ("came in the wrong colour", "wrong_item", "low"),
          ("needs a refund to my gift card", "billing", "medium"),
          ("is missing its power cable", "missing_part", "medium")]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "next week"]
EXTRACTION = {"custom_tone_behavior_style": True, "task_diversity": "narrow", "labeled_data": "few",
              "scale_latency_pressure": "high", "requires_external_knowledge": False, "data_dynamics": "static",
              "wants_recommendation_now": False}
CHAT_TEXT = "Noted. Tell me anything else about the task, or press Recommend now."


def ticket_sample(k: int) -> dict[str, str]:
    """The k-th distinct support email and its JSON ticket (k < len(NAMES))."""
    name, product = NAMES[k], PRODUCTS[k % len(PRODUCTS)]
    issue, category, priority = ISSUES[k % len(ISSUES)]
    order = f"A{1000 + 37 * k}"
    day = DAYS[k % len(DAYS)]
    email = f"Hello, {name} here. My {product} (order {order}) {issue}. Could you sort it out by {day}?"
    ticket = {"customer": name, "product": product, "order_id": order, "category": category,
              "priority": priority}
    return {"instruction": INSTRUCTION, "input": email, "output": json.dumps(ticket)}


SEEDS = [ticket_sample(k) for k in range(40, 45)]  # the generated batches use k = 0..39


def all_texts() -> list[str]:
    """Every text the journey trains on, so the tiny tokenizer covers it."""
    return [" ".join(s.values()) for s in (ticket_sample(k) for k in range(len(NAMES)))]


def request_kind(body: dict[str, Any]) -> str:
    """'extraction', 'batch' or 'chat', from the request's json_schema response format."""
    schema = (body.get("response_format") or {}).get("json_schema") or {}
    properties = (schema.get("schema") or {}).get("properties") or {}
    if schema.get("name") == "ProfileExtraction" or "wants_recommendation_now" in properties:
        return "extraction"
    if schema.get("name") == "sample_batch" or "samples" in properties:
        return "batch"
    return "chat"


class TicketLLM(OpenAIStub):
    """Answers by request type: the profile extraction, 20 new ticket samples per batch request, else text."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_requests: list[dict[str, Any]] = []

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            kind = request_kind(body)
            if kind == "extraction":
                return Reply.json(EXTRACTION)
            if kind == "batch":
                start = 20 * len(self.batch_requests)
                self.batch_requests.append(body)
                return Reply.json({"samples": [ticket_sample(k % 40) for k in range(start, start + 20)]})
            return Reply.text(CHAT_TEXT)

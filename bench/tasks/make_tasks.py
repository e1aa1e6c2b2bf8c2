"""Writes the training-defaults task suite: six small tasks of the kinds people bring to a small model.

Each task gets TRAIN rows and 30 held-out rows in Alpaca JSON (bench/tasks/NAME/train.json, eval.json). Entities
(names, cities, products, numbers) come from pools split in two, so no held-out row shares one with training.
Rows come from a fixed seed: run `python bench/tasks/make_tasks.py` to rewrite the same files.
One task (unit conversion) needs arithmetic, which a 270M model should not be expected to learn: the suite checks
that the product says so instead of promising a model.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELD_OUT = 30

FIRST = ["Maria", "James", "Aiko", "Oliver", "Fatima", "Lucas", "Ingrid", "Mateo", "Priya", "Tomasz", "Chloe",
         "Kwame", "Sofia", "Hiroshi", "Elena", "Dmitri", "Amara", "Jonas", "Leila", "Rafael", "Nadia", "Pablo",
         "Greta", "Omar", "Yuki", "Marco", "Astrid", "Tariq", "Helena", "Bruno", "Zara", "Felix", "Ines", "Arjun",
         "Carmen", "Viktor", "Lena", "Samir", "Rosa", "Anders"]
LAST = ["Lopez", "Okafor", "Tanaka", "Schmidt", "Haddad", "Moreau", "Larsen", "Rossi", "Sharma", "Kowalski",
        "Dubois", "Mensah", "Ferreira", "Sato", "Novak", "Petrov", "Nwosu", "Berg", "Karimi", "Silva", "Ivanova",
        "Garcia", "Lindqvist", "Farouk", "Mori", "Bianchi", "Holm", "Aziz", "Costa", "Weber", "Khan", "Fischer",
        "Alves", "Patel", "Ortiz", "Horvat", "Meyer", "Saleh", "Romero", "Nilsson"]
CITIES = ["Denver", "Lyon", "Osaka", "Leeds", "Porto", "Krakow", "Austin", "Ghent", "Turin", "Bergen", "Dublin",
          "Seville", "Tucson", "Malmo", "Graz", "Quebec", "Boise", "Perth", "Zagreb", "Nantes", "Omaha", "Split",
          "Cork", "Bilbao", "Tampa", "Basel", "Utrecht", "Fresno", "Leipzig", "Haifa", "Durban", "Lille", "Aarhus",
          "Genoa", "Raleigh", "Brno", "Reno", "Tromso", "Cadiz", "Salem"]
PRODUCTS = ["SmartThermo", "AquaPure filter", "TrailRunner shoes", "CloudDesk plan", "PixelCam", "EchoBuds",
            "HomeHub router", "BrewMaster kettle", "FitBand", "SolarLamp", "CityBike", "NoteMate tablet",
            "SnapPrint printer", "ChefPan set", "ZenChair", "PowerCell battery", "StreamBox", "GardenPro hose",
            "VoltScooter", "SafeLock door lock", "ClearView monitor", "WarmCoat jacket", "TinyDrone", "BookNook app"]
TEAMS = ["payments", "search", "mobile", "billing", "infra", "design", "support", "growth", "security", "data",
         "checkout", "identity", "platform", "content", "analytics", "onboarding", "ads", "maps", "inbox", "sync"]


def halves(pool: list, rng: random.Random) -> tuple[list, list]:
    """The pool shuffled and cut in two: training entities, held-out entities."""
    items = list(pool)
    rng.shuffle(items)
    cut = len(items) * 2 // 3
    return items[:cut], items[cut:]


def unique_rows(make, count: int, rng: random.Random) -> list[dict[str, str]]:
    """count rows from make(rng) with distinct inputs."""
    rows, seen = [], set()
    for _ in range(count * 50):
        row = make(rng)
        if row["input"] not in seen:
            seen.add(row["input"])
            rows.append(row)
        if len(rows) == count:
            return rows
    raise RuntimeError(f"could not draw {count} distinct rows")


def extraction(rng: random.Random, side: int) -> callable:
    firsts, lasts, cities = (halves(pool, random.Random(1))[side] for pool in (FIRST, LAST, CITIES))
    shapes = ("{name} moved to {city} last spring.", "Our new hire {name} will work from {city}.",
              "Please ship the parcel to {name} in {city}.", "{name}, who lives in {city}, called twice today.",
              "The conference in {city} was opened by {name}.", "Invoice for {name} ({city} office) attached.")

    def make(r: random.Random) -> dict[str, str]:
        name, city = f"{r.choice(firsts)} {r.choice(lasts)}", r.choice(cities)
        return {"instruction": "Extract the person's full name and the city as JSON with keys name and city.",
                "input": r.choice(shapes).format(name=name, city=city),
                "output": json.dumps({"name": name, "city": city})}
    return make


def routing(rng: random.Random, side: int) -> callable:
    products = halves(PRODUCTS, random.Random(2))[side]
    shapes = {
        "billing": ("I was charged twice for my {p}.", "Can I get a refund for the {p}?",
                    "My invoice for the {p} shows the wrong amount."),
        "shipping": ("My {p} has not arrived yet.", "The {p} was delivered to the wrong address.",
                     "Where is my {p} order? Tracking has not moved."),
        "technical": ("The {p} keeps restarting by itself.", "My {p} will not connect to wifi.",
                      "The {p} shows an error after the update."),
        "account": ("I cannot log in to manage my {p}.", "Please change the email on my {p} account.",
                    "How do I reset the password for my {p} account?"),
    }

    def make(r: random.Random) -> dict[str, str]:
        label = r.choice(sorted(shapes))
        return {"instruction": "Route this support message to one team: billing, shipping, technical or account.",
                "input": r.choice(shapes[label]).format(p=r.choice(products)), "output": label}
    return make


def phone_format(rng: random.Random, side: int) -> callable:
    areas = halves([str(n) for n in range(201, 990, 7)], random.Random(3))[side]
    shapes = ("({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "{a} {b} {c}", "1-{a}-{b}-{c}", "+1 ({a}) {b} {c}")

    def make(r: random.Random) -> dict[str, str]:
        a, b, c = r.choice(areas), f"{r.randrange(200, 1000)}", f"{r.randrange(0, 10000):04d}"
        return {"instruction": "Write this US phone number in our format: +1-AAA-BBB-CCCC.",
                "input": r.choice(shapes).format(a=a, b=b, c=c), "output": f"+1-{a}-{b}-{c}"}
    return make


def house_style(rng: random.Random, side: int) -> callable:
    teams = halves(TEAMS, random.Random(4))[side]
    things = halves(["login timeout", "slow export", "broken invoice link", "missing avatar", "duplicate email",
                     "stale cache", "wrong currency", "crash on launch", "empty search page", "late reminder",
                     "blurry thumbnail", "expired token", "double charge", "lost draft", "timezone offset",
                     "dark mode contrast", "flaky upload", "silent alert"], random.Random(5))[side]
    verbs = (("fixed", "The {team} team has fixed the {thing} bug."), ("shipped a fix for",
             "A fix for the {thing} issue was shipped by the {team} team."),
             ("is investigating", "The {team} team is currently investigating the {thing} problem."))

    def make(r: random.Random) -> dict[str, str]:
        team, thing = r.choice(teams), r.choice(things)
        verb, shape = r.choice(verbs)
        return {"instruction": "Rewrite this status update in our house style: 'Team: verb the thing.'",
                "input": shape.format(team=team, thing=thing),
                "output": f"{team.capitalize()}: {verb} the {thing}."}
    return make


def booking_form(rng: random.Random, side: int) -> callable:
    lasts = halves(LAST, random.Random(6))[side]
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    shapes = ("Book a table for {n} on {day} at {t} under the name {name}.",
              "Hi, {name} here, we are {n} people and would like {day} at {t}.",
              "Could you reserve {day}, {t}, party of {n}? Name: {name}.",
              "{name} wants a table at {t} on {day} for {n}.")

    def make(r: random.Random) -> dict[str, str]:
        name, n, day, t = r.choice(lasts), r.randrange(2, 13), r.choice(days), f"{r.randrange(5, 11)}pm"
        return {"instruction": "Fill the booking form from the message: name, party, day, time (one per line).",
                "input": r.choice(shapes).format(name=name, n=n, day=day, t=t),
                "output": f"name: {name}\nparty: {n}\nday: {day}\ntime: {t}"}
    return make


def unit_conversion(rng: random.Random, side: int) -> callable:
    # train and held-out quantities differ in their tenths digit, so no held-out number is seen in training
    def make(r: random.Random) -> dict[str, str]:
        miles = round(r.randrange(1, 60) + (r.choice((1, 3, 5, 7, 9)) if side == 0 else r.choice((2, 4, 6, 8))) / 10,
                      1)
        return {"instruction": "Convert this distance from miles to kilometres, rounded to one decimal.",
                "input": f"{miles} miles", "output": f"{miles * 1.609344:.1f} km"}
    return make


# name -> (what a person would call it, row maker, training rows, answers are open text)
TASKS = {
    "extract-json": ("extraction to JSON", extraction, 100),
    "route-ticket": ("classification / routing into labels", routing, 80),
    "phone-format": ("normalising a format", phone_format, 100),
    "house-style": ("a short rewrite in a house style", house_style, 100),
    "booking-form": ("filling a multi-field form from free text", booking_form, 120),
    "miles-to-km": ("arithmetic (unit conversion): not expected of a 270M model", unit_conversion, 100),
}
EXPECTED_UNLEARNABLE = ("miles-to-km",)


def write_task(name: str) -> None:
    kind, maker, train_rows = TASKS[name]
    rng = random.Random(sum(map(ord, name)))
    train = unique_rows(maker(rng, 0), train_rows, rng)
    held_out = unique_rows(maker(rng, 1), HELD_OUT, rng)
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    for file, rows in (("train.json", train), ("eval.json", held_out)):
        (folder / file).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "task.json").write_text(json.dumps({"kind": kind, "expected_learnable": name not in
                                                  EXPECTED_UNLEARNABLE}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for task in TASKS:
        write_task(task)
        print(f"wrote bench/tasks/{task}")

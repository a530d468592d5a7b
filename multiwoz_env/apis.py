"""The 12 MultiWOZ APIs, in process, with the original's validation order, messages and quirks.

Each function takes the sandbox state first and the agent's parameters as keywords, so an
unknown parameter is a TypeError exactly as in the original (the agent then sees the generic
invalid-input observation). Return values are the original's objects: their Python repr is
what the agent reads. Quirks kept on purpose because observations, training data and grades
depend on them (the original's apis.py): bare-string errors, "exsist", bools accepted as ints, name
normalisation written back into results, falsy filters dropped, the 7-result cap.
"""

from __future__ import annotations

import copy
import random
import re
import string
from collections.abc import Callable
from typing import Any, Protocol


class Sandbox(Protocol):
    """What the APIs use of a dialogue's sandbox (`multiwoz_env.sandbox.Sandbox`, which imports this
    module: the APIs depend on this contract, not on that module)."""

    db: dict[str, list[dict[str, Any]]]
    no_book: dict[str, list[dict[str, Any]]]
    rng: random.Random

    @property
    def docs(self) -> list[dict[str, Any]]: ...

    def require_db(self, domain: str) -> list[dict[str, Any]]: ...

    def has_reservation_table(self, domain: str) -> bool: ...

    def require_reservations(self, domain: str) -> list[dict[str, Any]]: ...

    def reference_number(self) -> str: ...

    def add_reservation(self, domain: str, record: dict[str, Any]) -> None: ...

    def remove_reservation(self, domain: str, index: int) -> None: ...


MAX_RESULTS = 7
AREAS = ["north", "west", "south", "east", "centre"]
PRICERANGES = ["cheap", "moderate", "expensive"]
DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
TAXI_BRANDS = ["toyota", "skoda", "bmw", "honda", "ford", "audi", "lexus", "volvo", "volkswagen", "tesla"]
_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
FULLY_OCCUPIED = "Reservation not possible under given conditions (Fully occupied)"


def ok(result: Any) -> dict[str, Any]:
    return {"success": True, "result": result}


def fail(message: str) -> dict[str, Any]:
    return {"success": False, "result": {"message": message}}


def fail_bare(message: str) -> dict[str, Any]:
    """The allowed-value errors return the text itself as `result` (no message wrapper)."""
    return {"success": False, "result": message}


def not_in_set(param: str, allowed: list[Any]) -> dict[str, Any]:
    return fail_bare(
        f"The {param} must be one of {allowed}. "
        "Check whether the input parameter value is within the allowed set and whether it is in lowercase."
    )


def wrong_type(param: str, expected: type) -> dict[str, Any]:
    return fail(f"Type of {param} must be {expected}")


def valid_time(text: str) -> bool:
    return len(text) == 5 and bool(_TIME.match(text))


def strip_apostrophes(text: str) -> str:
    return text.replace("'", "")


def normalise_name(text: str) -> str:
    return text.lower().replace("'", "")


def no_such_file(path: str) -> FileNotFoundError:
    return FileNotFoundError(2, "No such file or directory", path)


def first_type_error(params: dict[str, Any], types: dict[str, type]) -> dict[str, Any] | None:
    for param, value in params.items():
        if not isinstance(value, types[param]):
            return wrong_type(param, types[param])
    return None


def capped(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Results are copies: a caller may keep or change them without touching the sandbox db.
    return copy.deepcopy(entities[:MAX_RESULTS])


def name_matches(entity_name: str, query: str) -> bool:
    """Exact match, where a db name starting with 'the ' also matches without it."""
    if entity_name.startswith("the ") and query == entity_name[4:]:
        return True
    return entity_name == query


def matching(entities: list[dict[str, Any]], query: dict[str, Any], names_loose: bool) -> list[dict[str, Any]]:
    out = []
    for entity in entities:
        if all(
            name_matches(entity["name"], value) if (names_loose and param == "name") else entity[param] == value
            for param, value in query.items()
        ):
            out.append(entity)
    return out


# --- search -------------------------------------------------------------------------------


def attraction_retrieve(sb: Sandbox, /, area: str | None = None, name: str | None = None, type: str | None = None) -> dict[str, Any]:
    entities = sb.require_db("attraction")  # no guard in the original: a missing db raises
    params: dict[str, Any] = {"area": area, "name": name.lower() if name else name, "type": type}
    params = {k: v for k, v in params.items() if v}
    if not params:
        return ok(capped(list(entities)))
    error = first_type_error(params, {"area": str, "name": str, "type": str})
    if error:
        return error
    if "area" in params and params["area"] not in AREAS:
        return fail_bare(f"The area must be one of {AREAS}.")
    return ok(capped(matching(list(entities), params, names_loose=False)))


def accommodation_retrieve(
    sb: Sandbox,
    /,
    area: str | None = None,
    internet: bool | None = None,
    name: str | None = None,
    parking: bool | None = None,
    pricerange: str | None = None,
    stars: int | None = None,
    type: str | None = None,
) -> dict[str, Any]:
    entities = sb.db.get("accommodation")
    if entities is None:
        return fail("accommodation retrieving is not available currently.")
    params: dict[str, Any] = {
        "area": area,
        "internet": internet,
        "name": normalise_name(name) if name else name,
        "parking": parking,
        "pricerange": pricerange,
        "stars": stars,
        "type": type,
    }
    params = {k: v for k, v in params.items() if v is not None}  # only None counts as absent here
    if not params:
        return ok(capped(list(entities)))
    types = {"area": str, "internet": bool, "name": str, "parking": bool, "pricerange": str, "stars": int, "type": str}
    error = first_type_error(params, types)
    if error:
        return error
    allowed: dict[str, list[Any]] = {
        "internet": [True, False],
        "area": AREAS,
        "parking": [True, False],
        "stars": [0, 1, 2, 3, 4, 5],
        "pricerange": PRICERANGES,
        "type": ["bed and breakfast", "guesthouse", "hotel"],
    }
    for param, value in params.items():
        if param in allowed and value not in allowed[param]:
            return not_in_set(param, allowed[param])
    for flag in ("internet", "parking"):
        if flag in params:
            params[flag] = "yes" if params[flag] else "no"
    if "stars" in params:
        params["stars"] = str(params["stars"])
    pool = list(entities)
    if "name" in params:  # the normalised name is written back into every returned entity
        pool = [{**e, "name": normalise_name(e["name"])} for e in pool]
    return ok(capped(matching(pool, params, names_loose=True)))


def restaurant_retrieve(
    sb: Sandbox, /, area: str | None = None, name: str | None = None, food: str | None = None, pricerange: str | None = None
) -> dict[str, Any]:
    entities = sb.db.get("restaurant")
    if entities is None:
        return fail("restaurant retrieving is not available currently.")
    pool = [{**e, "name": e["name"].lower()} for e in entities]  # every result name is lower-cased
    params: dict[str, Any] = {"area": area, "name": normalise_name(name) if name else name, "food": food, "pricerange": pricerange}
    params = {k: v for k, v in params.items() if v}
    if not params:
        return ok(capped(pool))
    error = first_type_error(params, {"area": str, "name": str, "food": str, "pricerange": str})
    if error:
        return error
    allowed = {"area": AREAS, "pricerange": PRICERANGES}
    for param, value in params.items():
        if param in allowed and value not in allowed[param]:
            return not_in_set(param, allowed[param])
    if "name" in params:
        pool = [{**e, "name": normalise_name(e["name"])} for e in pool]
    return ok(capped(matching(pool, params, names_loose=True)))


def train_retrieve(
    sb: Sandbox,
    /,
    train_schedule_id: int | None = None,
    day: str | None = None,
    departure: str | None = None,
    destination: str | None = None,
) -> dict[str, Any]:
    entities = sb.db.get("train")
    if entities is None:
        return fail("train retrieving is not available currently.")
    params: dict[str, Any] = {
        "train_schedule_id": train_schedule_id,
        "day": day,
        "departure": strip_apostrophes(departure) if departure else departure,
        "destination": strip_apostrophes(destination) if destination else destination,
    }
    params = {k: v for k, v in params.items() if v}  # falsy filters (0, "") count as absent
    if not params:
        return ok(capped(list(entities)))
    error = first_type_error(params, {"train_schedule_id": int, "day": str, "departure": str, "destination": str})
    if error:
        return error
    wanted = {k: str(v) for k, v in params.items()}
    return ok(capped([e for e in entities if all(e[k] == v for k, v in wanted.items())]))


# --- booking ------------------------------------------------------------------------------


def first_missing(params: dict[str, Any]) -> dict[str, Any] | None:
    for param, value in params.items():
        if value is None:
            return fail(f"Input parameter '{param}' is required parameter.")
    return None


def next_reservation(sb: Sandbox, domain: str) -> dict[str, Any]:
    """reservation_id (last + 1, so ids are reused after cancelling the last one) and a reference."""
    records = sb.require_reservations(domain)
    reservation_id = records[-1]["reservation_id"] + 1 if records else 0
    return {"reservation_id": reservation_id, "reference_number": sb.reference_number()}


def blocked(sb: Sandbox, domain: str, record: dict[str, Any], slots: tuple[str, ...]) -> bool:
    """The goal's failing booking (db/<domain>_no_book_db.json) is refused as fully occupied."""
    for entry in sb.no_book.get(domain, []):
        # Every slot is compared (no short-circuit), as the original counts matches.
        if entry["name"] == record["name"] and sum([str(record[slot]) == entry[slot] for slot in slots]) == len(slots):
            return True
    return False


def booked(sb: Sandbox, domain: str, record: dict[str, Any]) -> dict[str, Any]:
    sb.add_reservation(domain, record)
    return ok({"message": f"Booking Success. Booked information: {record}"})


def accommodation_book(
    sb: Sandbox, /, id: int | None = None, day: str | None = None, people: int | None = None, stay: int | None = None
) -> dict[str, Any]:
    params = {"id": id, "day": day, "people": people, "stay": stay}
    error = first_missing(params) or first_type_error(params, {"id": int, "day": str, "people": int, "stay": int})
    if error:
        return error
    entities = sb.db.get("accommodation")
    if entities is None:
        return fail("accommodation booking is not available currently.")
    names = {int(e["id"]): e["name"] for e in entities}
    if id not in names:
        return fail(f"accommodation id '{id}' does not exsist. Please check the id properly.")
    record = next_reservation(sb, "accommodation") | {"id": id, "name": names[id], "day": day, "people": people, "stay": stay}
    if day not in DAYS:
        return not_in_set("day", DAYS)
    if blocked(sb, "accommodation", record, ("stay", "day", "people", "name")):
        return fail(FULLY_OCCUPIED)
    return booked(sb, "accommodation", record)


def restaurant_book(
    sb: Sandbox, /, id: int | None = None, day: str | None = None, people: int | None = None, time: str | None = None
) -> dict[str, Any]:
    params = {"id": id, "day": day, "people": people, "time": time}
    error = first_missing(params)
    if error:
        return error
    types = {"id": int, "day": str, "people": int, "time": str}
    for param, value in params.items():  # the time format is checked inside the type loop
        if not isinstance(value, types[param]):
            return wrong_type(param, types[param])
        if param == "time" and isinstance(value, str) and not valid_time(value):  # a str: its type was checked just above
            return fail("Format of 'time' is invalid. Check the API documentation properly.")
    entities = sb.db.get("restaurant")
    if entities is None:
        return fail("Restaurant booking is not available currently.")
    names = {int(e["id"]): e["name"] for e in entities}
    if id not in names:
        return fail(f"Restaurant id '{id}' does not exsist. Please check the id properly.")
    record = next_reservation(sb, "restaurant") | {"id": id, "name": names[id], "day": day, "people": people, "time": time}
    if day not in DAYS:
        return not_in_set("day", DAYS)
    if blocked(sb, "restaurant", record, ("day", "time", "people", "name")):
        return fail(FULLY_OCCUPIED)
    return booked(sb, "restaurant", record)


def train_book(sb: Sandbox, /, train_schedule_id: int | None = None, people: int | None = None) -> dict[str, Any]:
    params = {"train_schedule_id": train_schedule_id, "people": people}
    error = first_missing(params) or first_type_error(params, {"train_schedule_id": int, "people": int})
    if error:
        return error
    entities = sb.db.get("train")
    if entities is None:
        return fail("Train booking is not available currently.")
    if train_schedule_id not in {int(e["train_schedule_id"]) for e in entities}:
        return fail(f"Train schedule id '{train_schedule_id}' does not exsist. Please check the id properly.")
    record = next_reservation(sb, "train") | {"train_schedule_id": train_schedule_id, "people": people}
    # The original compares the no-book list's string id with this int id, so it never blocks.
    for entry in sb.no_book.get("train", []):
        if entry["train_schedule_id"] == record["train_schedule_id"] and str(record["people"]) == entry["people"]:
            return fail(FULLY_OCCUPIED)
    return booked(sb, "train", record)


def taxi_book(
    sb: Sandbox,
    /,
    leaveAt: str | None = None,  # noqa: N803 - the API's own parameter names
    arriveBy: str | None = None,  # noqa: N803
    destination: str | None = None,
    departure: str | None = None,
) -> dict[str, Any]:
    # Apostrophes are stripped for validation only; the record keeps the raw arguments.
    checked: dict[str, Any] = {
        "leaveAt": leaveAt,
        "arriveBy": arriveBy,
        "destination": strip_apostrophes(destination) if destination else destination,
        "departure": strip_apostrophes(departure) if departure else departure,
    }
    for param in ("destination", "departure"):
        if checked[param] is None:
            return fail(f"Input parameter '{param}' is required parameter.")
    if leaveAt is None and arriveBy is None:
        return fail("At least one either leaveAt or arriveBy should be inserted.")
    for param, value in checked.items():
        if value:
            if not isinstance(value, str):
                return wrong_type(param, str)
            if param in ("leaveAt", "arriveBy") and not valid_time(value):
                return fail(f"Format of {param} is invalid. Check the API documentation properly.")
    if not sb.has_reservation_table("taxi"):
        return fail("Taxi booking is not available currently.")
    record = next_reservation(sb, "taxi") | {"leaveAt": leaveAt, "arriveBy": arriveBy, "destination": destination, "departure": departure}
    record["car_type"] = sb.rng.sample(TAXI_BRANDS, 1)[0]
    record["phone"] = "010" + "".join(str(sb.rng.randint(0, 9)) for _ in range(8))
    return booked(sb, "taxi", record)


def book_cancel(sb: Sandbox, /, domain: str | None = None, reservation_id: int | None = None) -> dict[str, Any]:
    if reservation_id is None:
        return fail("reservation_id is required parameter.")
    if domain is None:
        return fail("domain is required parameter.")
    if not isinstance(reservation_id, int):
        return fail("reservation_id must be 'int' type")
    key = f"{domain}"
    records = sb.require_reservations(key)  # no domain validation: an unknown one raises
    for index, record in enumerate(records):
        if record["reservation_id"] == reservation_id:
            sb.remove_reservation(key, index)
            return ok({"message": f"Booking id '{reservation_id}' has cancelled."})
    return fail(f"Booking id '{reservation_id}' does not exsist.")


# --- helpers ------------------------------------------------------------------------------

APP_DESCRIPTIONS = [
    {"name": "train", "description": "An app capable of retrieving or booking train schedules."},
    {"name": "accommodation", "description": "An app capable of retrieving or booking accommodation."},
    {"name": "restaurant", "description": "An app capable of retrieving or restaurant."},
    {"name": "taxi", "description": "An app capable of retrieving or booking taxi."},
    {"name": "general", "description": "supporting APIs such as book canceling"},
]


def show_app_description(sb: Sandbox, /) -> dict[str, Any]:
    return ok(copy.deepcopy(APP_DESCRIPTIONS))


def show_api_description(sb: Sandbox, /, app_name: str | None = None) -> dict[str, Any]:
    if app_name is None:
        return fail("Input parameter 'app_name' is required parameter.")
    return ok([{"name": d["api_name"], "description": d["description"]} for d in sb.docs if d["app_name"] == app_name])


def show_api_docs(sb: Sandbox, /, app_name: str | None = None, api_name: str | None = None) -> dict[str, Any]:
    error = first_missing({"app_name": app_name, "api_name": api_name})
    if error:
        return error
    for doc in sb.docs:
        if doc["app_name"] == app_name and doc["api_name"] == api_name:
            return ok(copy.deepcopy(doc))
    return fail("API does not exsist.")


# The agent-side allow-list: exactly these 12 names (prompts.py:input_parameter_dict upstream).
APIS: dict[str, Callable[..., dict[str, Any]]] = {
    "attraction_retrieve": attraction_retrieve,
    "accommodation_retrieve": accommodation_retrieve,
    "accommodation_book": accommodation_book,
    "restaurant_retrieve": restaurant_retrieve,
    "restaurant_book": restaurant_book,
    "train_retrieve": train_retrieve,
    "train_book": train_book,
    "taxi_book": taxi_book,
    "book_cancel": book_cancel,
    "show_app_description": show_app_description,
    "show_api_description": show_api_description,
    "show_api_docs": show_api_docs,
}

REFERENCE_ALPHABET = string.ascii_letters + string.digits

"""The 14 tools of the tau-bench v1 airline domain, rewritten to behave exactly like the originals.

Every tool is a class named after the tool (CamelCase) with a static `invoke(data, ...)`; `data` is
the in-memory DB `{"flights", "reservations", "users"}` and is mutated in place. Outputs must match
v1 byte for byte, so the quirks of the originals are kept on purpose (they are listed in
docs/SPEC_TAU.md §2.3): the order of checks, which values are copied and which are stored by
reference, the float arithmetic order, `json.dumps` with default settings, and the messages of the
Python exceptions that wrong argument types raise (the caller renders them as `Error: <message>`).

`calculate` does not use `eval`: a small `ast`-based interpreter reproduces what `eval` did on the
inputs that pass the original character filter, errors included.
"""

import ast
import json
import operator
from collections.abc import Callable
from copy import deepcopy
from typing import Any

# --------------------------------------------------------------------------- bookings

# CPython names its evaluator in this error text; v1 showed it to the agent.
_BUILTIN_NAME = "eval"


class BookReservation:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        user_id: str,
        origin: str,
        destination: str,
        flight_type: str,
        cabin: str,
        flights: list[dict[str, Any]],
        passengers: list[dict[str, Any]],
        payment_methods: list[dict[str, Any]],
        total_baggages: int,
        nonfree_baggages: int,
        insurance: str,
    ) -> str:
        reservations = data["reservations"]
        users = data["users"]
        if user_id not in users:
            return "Error: user not found"
        owner = users[user_id]

        # v1 hands out at most three ids; a 4th booking silently reuses (overwrites) HATHAV.
        new_id = "HATHAT"
        if new_id in reservations:
            new_id = "HATHAU"
            if new_id in reservations:
                new_id = "HATHAV"

        # Only the flights are copied; passengers and payments are stored as the very objects given.
        record = {
            "reservation_id": new_id,
            "user_id": user_id,
            "origin": origin,
            "destination": destination,
            "flight_type": flight_type,
            "cabin": cabin,
            "flights": deepcopy(flights),
            "passengers": passengers,
            "payment_history": payment_methods,
            "created_at": "2024-05-15T15:00:00",
            "total_baggages": total_baggages,
            "nonfree_baggages": nonfree_baggages,
            "insurance": insurance,
        }

        price_total = 0
        for segment in record["flights"]:
            number = segment["flight_number"]
            if number not in data["flights"]:
                return f"Error: flight {number} not found"
            flight_info = data["flights"][number]
            if segment["date"] not in flight_info["dates"]:
                return f"Error: flight {number} not found on date {segment['date']}"
            day = flight_info["dates"][segment["date"]]
            if day["status"] != "available":
                return f"Error: flight {number} not available on date {segment['date']}"
            if day["available_seats"][cabin] < len(passengers):
                return f"Error: not enough seats on flight {number}"
            # Appended after the caller's keys, in this order.
            segment["price"] = day["prices"][cabin]
            segment["origin"] = flight_info["origin"]
            segment["destination"] = flight_info["destination"]
            price_total += segment["price"] * len(passengers)

        if insurance == "yes":
            price_total += 30 * len(passengers)
        price_total += 50 * nonfree_baggages

        for payment in payment_methods:
            method_id = payment["payment_id"]
            paid = payment["amount"]
            wallet = owner["payment_methods"]  # looked up per payment: never touched when none are given
            if method_id not in wallet:
                return f"Error: payment method {method_id} not found"
            if wallet[method_id]["source"] in ["gift_card", "certificate"]:
                if wallet[method_id]["amount"] < paid:
                    return f"Error: not enough balance in payment method {method_id}"

        if sum(p["amount"] for p in payment_methods) != price_total:
            paid_total = sum(p["amount"] for p in payment_methods)
            return f"Error: payment amount does not add up, total price is {price_total}, but paid {paid_total}"

        # All checks passed: charge gift cards, consume certificates (credit cards need nothing).
        # Seats are never decremented in v1.
        for payment in payment_methods:
            method_id = payment["payment_id"]
            paid = payment["amount"]
            wallet = owner["payment_methods"]
            if wallet[method_id]["source"] == "gift_card":
                wallet[method_id]["amount"] -= paid
            elif wallet[method_id]["source"] == "certificate":
                del wallet[method_id]

        reservations[new_id] = record
        owner["reservations"].append(new_id)
        return json.dumps(record)


class CancelReservation:
    @staticmethod
    def invoke(data: dict[str, Any], reservation_id: str) -> str:
        reservations = data["reservations"]
        if reservation_id not in reservations:
            return "Error: reservation not found"
        booking = reservations[reservation_id]
        # No status check: cancelling twice refunds the refunds too. Balances are not restored.
        reversals = [{"payment_id": entry["payment_id"], "amount": -entry["amount"]} for entry in booking["payment_history"]]
        booking["payment_history"].extend(reversals)
        booking["status"] = "cancelled"
        return json.dumps(booking)


# --------------------------------------------------------------------------- look-ups


class GetReservationDetails:
    @staticmethod
    def invoke(data: dict[str, Any], reservation_id: str) -> str:
        reservations = data["reservations"]
        if reservation_id in reservations:
            return json.dumps(reservations[reservation_id])
        return "Error: user not found"  # sic: v1 says "user" here


class GetUserDetails:
    @staticmethod
    def invoke(data: dict[str, Any], user_id: str) -> str:
        users = data["users"]
        if user_id in users:
            return json.dumps(users[user_id])
        return "Error: user not found"


_AIRPORT_CITIES: tuple[tuple[str, str], ...] = (
    ("SFO", "San Francisco"),
    ("JFK", "New York"),
    ("LAX", "Los Angeles"),
    ("ORD", "Chicago"),
    ("DFW", "Dallas"),
    ("DEN", "Denver"),
    ("SEA", "Seattle"),
    ("ATL", "Atlanta"),
    ("MIA", "Miami"),
    ("BOS", "Boston"),
    ("PHX", "Phoenix"),
    ("IAH", "Houston"),
    ("LAS", "Las Vegas"),
    ("MCO", "Orlando"),
    ("EWR", "Newark"),
    ("CLT", "Charlotte"),
    ("MSP", "Minneapolis"),
    ("DTW", "Detroit"),
    ("PHL", "Philadelphia"),
    ("LGA", "LaGuardia"),
)


class ListAllAirports:
    @staticmethod
    def invoke(data: dict[str, Any]) -> str:
        # A fixed list, not derived from the DB.
        return json.dumps(dict(_AIRPORT_CITIES))


def _flight_on_day(flight: dict[str, Any], day: dict[str, Any]) -> dict[str, Any]:
    """The flight without its `dates` table, followed by one day's status, seats and prices."""
    entry = {key: value for key, value in flight.items() if key != "dates"}
    entry.update(day)
    return entry


class SearchDirectFlight:
    @staticmethod
    def invoke(data: dict[str, Any], origin: str, destination: str, date: str) -> str:
        found = []
        for flight in data["flights"].values():
            if flight["origin"] == origin and flight["destination"] == destination:
                if date in flight["dates"] and flight["dates"][date]["status"] == "available":
                    found.append(_flight_on_day(flight, flight["dates"][date]))
        return json.dumps(found)


class SearchOnestopFlight:
    @staticmethod
    def invoke(data: dict[str, Any], origin: str, destination: str, date: str) -> str:
        all_flights = data["flights"]
        pairs = []
        for first in all_flights.values():
            if first["origin"] != origin:
                continue
            for second in all_flights.values():
                if not (second["destination"] == destination and first["destination"] == second["origin"]):
                    continue
                # An overnight first leg moves the second leg to the next day; v1 assumes May 2024
                # and does not zero-pad (and fails here, and only here, on a malformed date).
                if "+1" in first["scheduled_arrival_time_est"]:
                    next_date = f"2024-05-{int(date[-2:]) + 1}"
                else:
                    next_date = date
                # Plain string comparison of the times, as v1 does.
                if first["scheduled_arrival_time_est"] > second["scheduled_departure_time_est"]:
                    continue
                if date in first["dates"] and next_date in second["dates"]:
                    if first["dates"][date]["status"] == "available" and second["dates"][next_date]["status"] == "available":
                        leg_one = _flight_on_day(first, first["dates"][date])
                        leg_one["date"] = date
                        # v1 quirk: the second leg is filled from the *search* date's data (a KeyError
                        # when that date is missing); only its "date" shows the next day.
                        leg_two = _flight_on_day(second, second["dates"][date])
                        leg_two["date"] = next_date
                        pairs.append([leg_one, leg_two])
        return json.dumps(pairs)


# --------------------------------------------------------------------------- compensation and misc


_CERTIFICATE_NUMBERS = (3221322, 3221323, 3221324)


class SendCertificate:
    @staticmethod
    def invoke(data: dict[str, Any], user_id: str, amount: int) -> str | None:
        users = data["users"]
        if user_id not in users:
            return "Error: user not found"
        wallet = users[user_id]["payment_methods"]
        for number in _CERTIFICATE_NUMBERS:
            certificate_id = f"certificate_{number}"
            if certificate_id not in wallet:
                wallet[certificate_id] = {"source": "certificate", "amount": amount, "id": certificate_id}
                return f"Certificate {certificate_id} added to user {user_id} with amount {amount}."
        # All three ids taken: v1 falls off the loop and returns None (the caller reports it).
        return None


class Think:
    @staticmethod
    def invoke(data: dict[str, Any], thought: str) -> str:
        return ""


class TransferToHumanAgents:
    @staticmethod
    def invoke(data: dict[str, Any], summary: str) -> str:
        return "Transfer successful"


# --------------------------------------------------------------------------- reservation updates


def _check_update_payment(wallet: dict[str, Any], payment_id: str, charge: Any) -> str | None:
    """The payment checks shared by the two paid updates; an error text, or None when it may be used."""
    if payment_id not in wallet:
        return "Error: payment method not found"
    method = wallet[payment_id]
    if method["source"] == "certificate":
        return "Error: certificate cannot be used to update reservation"
    if method["source"] == "gift_card" and method["amount"] < charge:
        return "Error: gift card balance is not enough"
    return None


class UpdateReservationBaggages:
    @staticmethod
    def invoke(data: dict[str, Any], reservation_id: str, total_baggages: int, nonfree_baggages: int, payment_id: str) -> str:
        users = data["users"]
        reservations = data["reservations"]
        if reservation_id not in reservations:
            return "Error: reservation not found"
        booking = reservations[reservation_id]
        # Only extra non-free bags are charged; fewer bags are allowed and refund nothing.
        charge = 50 * max(0, nonfree_baggages - booking["nonfree_baggages"])
        wallet = users[booking["user_id"]]["payment_methods"]
        problem = _check_update_payment(wallet, payment_id, charge)
        if problem is not None:
            return problem
        method = wallet[payment_id]

        booking["total_baggages"] = total_baggages
        booking["nonfree_baggages"] = nonfree_baggages
        if method["source"] == "gift_card":
            method["amount"] -= charge
        if charge != 0:
            booking["payment_history"].append({"payment_id": payment_id, "amount": charge})
        return json.dumps(booking)


class UpdateReservationFlights:
    @staticmethod
    def invoke(data: dict[str, Any], reservation_id: str, cabin: str, flights: list[dict[str, Any]], payment_id: str) -> str:
        users = data["users"]
        reservations = data["reservations"]
        if reservation_id not in reservations:
            return "Error: reservation not found"
        booking = reservations[reservation_id]
        travellers = booking["passengers"]

        difference = 0
        new_segments = deepcopy(flights)
        for segment in new_segments:
            # A segment the reservation already has, in the same cabin, keeps its booked price and
            # skips every availability check.
            kept = [
                old
                for old in booking["flights"]
                if old["flight_number"] == segment["flight_number"] and old["date"] == segment["date"] and cabin == booking["cabin"]
            ]
            if kept:
                difference += kept[0]["price"] * len(travellers)
                segment["price"] = kept[0]["price"]
                segment["origin"] = kept[0]["origin"]
                segment["destination"] = kept[0]["destination"]
                continue

            number = segment["flight_number"]
            if number not in data["flights"]:
                return f"Error: flight {number} not found"
            flight_info = data["flights"][number]
            if segment["date"] not in flight_info["dates"]:
                return f"Error: flight {number} not found on date {segment['date']}"
            day = flight_info["dates"][segment["date"]]
            if day["status"] != "available":
                return f"Error: flight {number} not available on date {segment['date']}"
            if day["available_seats"][cabin] < len(travellers):
                return f"Error: not enough seats on flight {number}"
            segment["price"] = day["prices"][cabin]
            segment["origin"] = flight_info["origin"]
            segment["destination"] = flight_info["destination"]
            difference += segment["price"] * len(travellers)

        # Subtract the old fare as one product, after the loop (float order as in v1).
        difference -= sum(old["price"] for old in booking["flights"]) * len(travellers)

        wallet = users[booking["user_id"]]["payment_methods"]
        problem = _check_update_payment(wallet, payment_id, difference)
        if problem is not None:
            return problem
        method = wallet[payment_id]

        # A negative difference is a refund and raises a gift card's balance.
        if method["source"] == "gift_card":
            method["amount"] -= difference
        # v1 never writes the new cabin, and leaves the flights' seat counts alone.
        booking["flights"] = new_segments
        if difference != 0:
            booking["payment_history"].append({"payment_id": payment_id, "amount": difference})
        return json.dumps(booking)


class UpdateReservationPassengers:
    @staticmethod
    def invoke(data: dict[str, Any], reservation_id: str, passengers: list[dict[str, Any]]) -> str:
        reservations = data["reservations"]
        if reservation_id not in reservations:
            return "Error: reservation not found"
        booking = reservations[reservation_id]
        if len(passengers) != len(booking["passengers"]):
            return "Error: number of passengers does not match"
        booking["passengers"] = passengers  # stored as given, not copied
        return json.dumps(booking)


# --------------------------------------------------------------------------- calculate

# v1 accepts an expression only when every character is one of these; `**`, `//`, `...` and
# calls such as `(1)(2)` still get through, and eval's behaviour on them is reproduced below.
_EXPRESSION_CHARACTERS = "0123456789+-*/(). "

_BINARY_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


class _Spread:
    """A `*value` argument, already checked to be iterable, waiting to be collected into a call's arguments."""

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items


def _function_text(value: Any) -> str:
    """How CPython names a callee in argument errors: its qualified name, else `str()` of it.
    No value this language can produce has a `__qualname__`."""
    return str(value)


def _plan(tree: ast.expr) -> list[tuple[str, Any]]:
    """Flatten the tree into stack-machine steps in CPython's evaluation order. Iterative, because
    the parser accepts nesting (about 3000 levels) far deeper than Python's recursion limit."""
    steps: list[tuple[str, Any]] = []
    todo: list[Any] = [tree]  # AST nodes still to expand, or finished steps
    while todo:
        item = todo.pop()
        if isinstance(item, tuple):
            steps.append(item)
            continue
        if isinstance(item, ast.Constant):  # ints, floats and `...`
            steps.append(("push", item.value))
            continue
        ordered: list[Any]
        if isinstance(item, ast.BinOp) and type(item.op) in _BINARY_OPERATORS:
            ordered = [item.left, item.right, ("binary", _BINARY_OPERATORS[type(item.op)])]
        elif isinstance(item, ast.UnaryOp) and type(item.op) in _UNARY_OPERATORS:
            ordered = [item.operand, ("unary", _UNARY_OPERATORS[type(item.op)])]
        elif isinstance(item, ast.Tuple) and not any(isinstance(element, ast.Starred) for element in item.elts):
            ordered = [*item.elts, ("tuple", len(item.elts))]  # only `()` passes the character filter
        elif isinstance(item, ast.Call):
            ordered = _plan_call(item)
        else:
            raise TypeError(f"unsupported element in expression: {type(item).__name__}")
        todo.extend(reversed(ordered))
    return steps


def _plan_call(call: ast.Call) -> list[Any]:
    """A call as CPython 3.11 compiles it. Nothing in this language is callable, so every call fails,
    but with the error that eval raised first (an argument's own error, a `*`/`**` type error, or
    "not callable")."""
    if any(keyword.arg is not None for keyword in call.keywords):
        raise TypeError("unsupported element in expression: keyword")
    unpacking = call.keywords or any(isinstance(argument, ast.Starred) for argument in call.args)
    if not unpacking:
        return [call.func, *call.args, ("call", len(call.args))]
    ordered: list[Any] = [call.func]
    if len(call.args) == 1 and isinstance(call.args[0], ast.Starred):
        # A lone `*x` is passed through unchecked; the call itself checks it later.
        ordered.append(call.args[0].value)
    else:
        for argument in call.args:
            if isinstance(argument, ast.Starred):
                ordered += [argument.value, ("spread", None)]
            else:
                ordered.append(argument)
        ordered.append(("collect", len(call.args)))
    for keyword in call.keywords:
        ordered += [keyword.value, ("merge", None)]
    ordered.append(("call_unpacked", None))
    return ordered


def _run(steps: list[tuple[str, Any]]) -> Any:
    stack: list[Any] = []
    for kind, argument in steps:
        if kind == "push":
            stack.append(argument)
        elif kind == "binary":
            right = stack.pop()
            stack.append(argument(stack.pop(), right))
        elif kind == "unary":
            stack.append(argument(stack.pop()))
        elif kind == "tuple":
            items = stack[len(stack) - argument :]
            del stack[len(stack) - argument :]
            stack.append(tuple(items))
        elif kind == "call":
            del stack[len(stack) - argument :]
            raise TypeError(f"'{type(stack.pop()).__name__}' object is not callable")
        elif kind == "spread":
            value = stack.pop()
            try:
                stack.append(_Spread(tuple(value)))
            except TypeError:
                raise TypeError(f"Value after * must be an iterable, not {type(value).__name__}") from None
        elif kind == "collect":
            parts = stack[len(stack) - argument :]
            del stack[len(stack) - argument :]
            collected: list[Any] = []
            for part in parts:
                if isinstance(part, _Spread):
                    collected.extend(part.items)
                else:
                    collected.append(part)
            stack.append(tuple(collected))
        elif kind == "merge":
            # Stack: callee, positional arguments; `**value` must be a mapping, and none exists here.
            value = stack.pop()
            raise TypeError(f"{_function_text(stack[-2])} argument after ** must be a mapping, not {type(value).__name__}")
        elif kind == "call_unpacked":
            positional = stack.pop()
            callee = stack.pop()
            if not isinstance(positional, tuple):
                try:
                    positional = tuple(positional)
                except TypeError:
                    raise TypeError(
                        f"{_function_text(callee)} argument after * must be an iterable, not {type(positional).__name__}"
                    ) from None
            raise TypeError(f"'{type(callee).__name__}' object is not callable")
    return stack.pop()


def _evaluate(expression: Any) -> Any:
    """What v1's built-in evaluation of the filtered expression (no builtins) returned."""
    if not isinstance(expression, str | bytes):
        # e.g. a list of digit strings passes the character filter; eval refused it like this.
        raise TypeError(f"{_BUILTIN_NAME}() arg 1 must be a string, bytes or code object")
    # eval drops leading spaces and tabs before compiling; the parser would call them an indent.
    source = expression.lstrip(" \t") if isinstance(expression, str) else expression.lstrip(b" \t")
    try:
        # Filename "<string>" so that syntax errors read "... (<string>, line 1)" as eval's did.
        tree = ast.parse(source, filename="<string>", mode="eval")
    except RecursionError:
        raise RecursionError("maximum recursion depth exceeded during compilation") from None
    return _run(_plan(tree.body))


class Calculate:
    @staticmethod
    def invoke(data: dict[str, Any], expression: str) -> str:
        # Outside the try, as in v1: a non-iterable argument raises to the caller ("'int' object is not iterable").
        if not all(character in _EXPRESSION_CHARACTERS for character in expression):
            return "Error: invalid characters in expression"
        try:
            return str(round(float(_evaluate(expression)), 2))
        except Exception as exc:  # noqa: BLE001 - v1 turns every evaluation error into text
            return f"Error: {exc}"


TOOLS: dict[str, type] = {
    "book_reservation": BookReservation,
    "calculate": Calculate,
    "cancel_reservation": CancelReservation,
    "get_reservation_details": GetReservationDetails,
    "get_user_details": GetUserDetails,
    "list_all_airports": ListAllAirports,
    "search_direct_flight": SearchDirectFlight,
    "search_onestop_flight": SearchOnestopFlight,
    "send_certificate": SendCertificate,
    "think": Think,
    "transfer_to_human_agents": TransferToHumanAgents,
    "update_reservation_baggages": UpdateReservationBaggages,
    "update_reservation_flights": UpdateReservationFlights,
    "update_reservation_passengers": UpdateReservationPassengers,
}

"""The 14 tools of the tau-bench v1 airline domain, rewritten to behave exactly like the originals.

Every tool is a class named after the tool (CamelCase) with a static `invoke(data, ...)`; `data` is
the in-memory DB `{"flights", "reservations", "users"}` and is mutated in place. Outputs must match
v1 byte for byte, so the quirks of the originals are kept on purpose (they are listed in
tau_bench/envs/airline/tools/): the order of checks, which values are copied and which are stored by
reference, the float arithmetic order, `json.dumps` with default settings, and the messages of the
Python exceptions that wrong argument types raise (the caller renders them as `Error: <message>`).

`calculate`, `think` and the transfer tool are shared with retail (`tau_env.tools.common`).
"""

import json
from copy import deepcopy
from typing import Any

from tau_env.tools.common import Calculate, Think, TransferToHumanAgents, record_json

# --------------------------------------------------------------------------- bookings


def _price_segment(data: dict[str, Any], segment: dict[str, Any], cabin: str, seats: int) -> str | None:
    """Check that the segment's flight flies that day with `seats` free in the cabin, then add its
    price, origin and destination after the caller's keys (in this order); else the error text."""
    number = segment["flight_number"]
    if number not in data["flights"]:
        return f"Error: flight {number} not found"
    flight_info = data["flights"][number]
    if segment["date"] not in flight_info["dates"]:
        return f"Error: flight {number} not found on date {segment['date']}"
    day = flight_info["dates"][segment["date"]]
    if day["status"] != "available":
        return f"Error: flight {number} not available on date {segment['date']}"
    if day["available_seats"][cabin] < seats:
        return f"Error: not enough seats on flight {number}"
    segment["price"] = day["prices"][cabin]
    segment["origin"] = flight_info["origin"]
    segment["destination"] = flight_info["destination"]
    return None


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
        booked_flights = deepcopy(flights)
        record = {
            "reservation_id": new_id,
            "user_id": user_id,
            "origin": origin,
            "destination": destination,
            "flight_type": flight_type,
            "cabin": cabin,
            "flights": booked_flights,
            "passengers": passengers,
            "payment_history": payment_methods,
            "created_at": "2024-05-15T15:00:00",
            "total_baggages": total_baggages,
            "nonfree_baggages": nonfree_baggages,
            "insurance": insurance,
        }

        price_total = 0
        for segment in booked_flights:
            problem = _price_segment(data, segment, cabin, len(passengers))
            if problem is not None:
                return problem
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
        return record_json(data, "reservations", reservation_id, "Error: user not found")  # sic: v1 says "user" here


class GetUserDetails:
    @staticmethod
    def invoke(data: dict[str, Any], user_id: str) -> str:
        return record_json(data, "users", user_id, "Error: user not found")


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

            problem = _price_segment(data, segment, cabin, len(travellers))
            if problem is not None:
                return problem
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

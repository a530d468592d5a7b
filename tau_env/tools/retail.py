"""The 16 tools of the tau-bench v1 retail domain, rewritten to behave exactly like the originals.

Each tool is a class named after the tool in CamelCase with a static `invoke(data, ...)`, where
`data` is the in-memory DB `{"orders", "products", "users"}`, mutated in place. The agent sees the
returned text, so it must match v1 byte for byte: the order of the checks, the float arithmetic
order and rounding, the key order of the dicts we create, `json.dumps` with default settings, and the
messages of the Python exceptions that badly typed arguments raise (the caller renders any exception
as `Error: <message>`) are all kept as they were, quirks included (tau_bench/envs/retail/tools/).

`calculate`, `think` and the transfer tool are shared with airline (`tau_env.tools.common`).
"""

from __future__ import annotations

import json
from typing import Any

from tau_env.tools.common import Calculate, Think, TransferToHumanAgents, record_json

# --------------------------------------------------------------------------- shared checks


def _first_unknown_item(requested: list[str], order: dict[str, Any]) -> str | None:
    """The first requested id asked for more often than the order holds it (duplicates count).

    v1 iterates the request as given, so a string of ids is checked character by character."""
    in_order = [line["item_id"] for line in order["items"]]
    for item_id in requested:
        if requested.count(item_id) > in_order.count(item_id):
            return item_id
    return None


def _first_line(order: dict[str, Any], item_id: str) -> dict[str, Any]:
    """The first order line holding `item_id` (v1 indexes a filtered list, hence IndexError)."""
    return [line for line in order["items"] if line["item_id"] == item_id][0]


def _price_difference(products: dict[str, Any], order: dict[str, Any], item_ids: list[str], new_item_ids: list[str]) -> float | str:
    """Sum of new minus old prices, or the error text for the first unavailable new item.

    The sum starts from the int 0 and adds each (new - old) in turn, as v1 does, so the float
    result (and an int 0 for an empty request) is the same bit for bit."""
    total: float = 0
    for old_id, new_id in zip(item_ids, new_item_ids, strict=False):
        line = _first_line(order, old_id)
        variants = products[line["product_id"]]["variants"]
        if not (new_id in variants and variants[new_id]["available"]):
            return f"Error: new item {new_id} not found or available"
        old_price = line["price"]  # read before the new price, as in v1
        total += variants[new_id]["price"] - old_price
    return total


# What an item swap refuses, in v1's order: the pending modification and the delivered exchange run
# the same checks, and only the exchange rounds the price difference before using it.
_SWAP_REFUSALS = {"pending": "Error: non-pending order cannot be modified", "delivered": "Error: non-delivered order cannot be exchanged"}


def _checked_swap(
    data: dict[str, Any], order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str, status: str
) -> tuple[dict[str, Any], dict[str, Any], float] | str:
    """(order, payment method, price difference) once every check passed, else the error text."""
    orders = data["orders"]
    if order_id not in orders:
        return "Error: order not found"
    order = orders[order_id]
    if order["status"] != status:
        return _SWAP_REFUSALS[status]
    unknown = _first_unknown_item(item_ids, order)
    if unknown is not None:
        return f"Error: {unknown} not found"
    if len(item_ids) != len(new_item_ids):
        return "Error: the number of items to be exchanged should match"
    difference = _price_difference(data["products"], order, item_ids, new_item_ids)
    if isinstance(difference, str):
        return difference
    if status == "delivered":
        difference = round(difference, 2)
    methods = data["users"][order["user_id"]]["payment_methods"]
    if payment_method_id not in methods:
        return "Error: payment method not found"
    return order, methods[payment_method_id], difference


def _address(address1: str, address2: str, city: str, state: str, country: str, zip: str) -> dict[str, str]:
    # v1's key order, which differs from the data files' (city, country, state): the JSON text
    # changes after a modification, the hash does not.
    return {"address1": address1, "address2": address2, "city": city, "state": state, "country": country, "zip": zip}


# --------------------------------------------------------------------------- look-ups


class FindUserIdByEmail:
    @staticmethod
    def invoke(data: dict[str, Any], email: str) -> str:
        for user_id, profile in data["users"].items():
            # `email.lower()` is evaluated per user, as in v1 (a non-string fails on the first user).
            if profile["email"].lower() == email.lower():
                return user_id
        return "Error: user not found"


class FindUserIdByNameZip:
    @staticmethod
    def invoke(data: dict[str, Any], first_name: str, last_name: str, zip: str) -> str:
        for user_id, profile in data["users"].items():
            name = profile["name"]
            # Short-circuit order kept: a bad `last_name` only fails once a first name matches.
            if (
                name["first_name"].lower() == first_name.lower()
                and name["last_name"].lower() == last_name.lower()
                and profile["address"]["zip"] == zip
            ):
                return user_id
        return "Error: user not found"


class GetOrderDetails:
    @staticmethod
    def invoke(data: dict[str, Any], order_id: str) -> str:
        return record_json(data, "orders", order_id, "Error: order not found")


class GetProductDetails:
    @staticmethod
    def invoke(data: dict[str, Any], product_id: str) -> str:
        return record_json(data, "products", product_id, "Error: product not found")


class GetUserDetails:
    @staticmethod
    def invoke(data: dict[str, Any], user_id: str) -> str:
        return record_json(data, "users", user_id, "Error: user not found")


class ListAllProductTypes:
    @staticmethod
    def invoke(data: dict[str, Any]) -> str:
        by_name = {product["name"]: product["product_id"] for product in data["products"].values()}
        return json.dumps(dict(sorted(by_name.items())))


# --------------------------------------------------------------------------- pending orders


class CancelPendingOrder:
    @staticmethod
    def invoke(data: dict[str, Any], order_id: str, reason: str) -> str:
        orders = data["orders"]
        if order_id not in orders:
            return "Error: order not found"
        order = orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be cancelled"
        # A sequence (not a set) so that an unhashable reason is simply invalid, as in v1.
        if reason not in ("no longer needed", "ordered by mistake"):
            return "Error: invalid reason"

        refunds = []
        for payment in order["payment_history"]:
            method_id = payment["payment_method_id"]
            refunds.append({"transaction_type": "refund", "amount": payment["amount"], "payment_method_id": method_id})
            if "gift_card" in method_id:  # gift cards are refunded at once
                card = data["users"][order["user_id"]]["payment_methods"][method_id]
                card["balance"] = round(card["balance"] + payment["amount"], 2)

        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return json.dumps(order)


class ModifyPendingOrderAddress:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> str:
        orders = data["orders"]
        if order_id not in orders:
            return "Error: order not found"
        order = orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be modified"
        order["address"] = _address(address1, address2, city, state, country, zip)
        return json.dumps(order)


class ModifyPendingOrderItems:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> str:
        products = data["products"]
        checked = _checked_swap(data, order_id, item_ids, new_item_ids, payment_method_id, "pending")
        if isinstance(checked, str):
            return checked
        order, method, difference = checked
        if method["source"] == "gift_card" and method["balance"] < difference:
            return "Error: insufficient gift card balance to pay for the new item"

        # The difference is recorded unrounded (e.g. 22.00999999999999); only the card balance is rounded.
        order["payment_history"].append(
            {
                "transaction_type": "payment" if difference > 0 else "refund",
                "amount": abs(difference),
                "payment_method_id": payment_method_id,
            }
        )
        if method["source"] == "gift_card":
            method["balance"] = round(method["balance"] - difference, 2)

        # Lines are looked up again one by one, after the earlier ones have changed, as v1 does.
        for old_id, new_id in zip(item_ids, new_item_ids, strict=False):
            line = _first_line(order, old_id)
            line["item_id"] = new_id
            variant = products[line["product_id"]]["variants"][new_id]
            line["price"] = variant["price"]
            line["options"] = variant["options"]
        order["status"] = "pending (item modified)"
        return json.dumps(order)


class ModifyPendingOrderPayment:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        order_id: str,
        payment_method_id: str,
    ) -> str:
        orders = data["orders"]
        if order_id not in orders:
            return "Error: order not found"
        order = orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be modified"
        methods = data["users"][order["user_id"]]["payment_methods"]
        if payment_method_id not in methods:
            return "Error: payment method not found"
        history = order["payment_history"]
        if len(history) > 1 or history[0]["transaction_type"] != "payment":
            return "Error: there should be exactly one payment for a pending order"
        old_method_id = history[0]["payment_method_id"]
        if old_method_id == payment_method_id:
            return "Error: the new payment method should be different from the current one"

        amount = history[0]["amount"]
        new_method = methods[payment_method_id]
        if new_method["source"] == "gift_card" and new_method["balance"] < amount:
            return "Error: insufficient gift card balance to pay for the order"

        history.extend(
            [
                {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
                {"transaction_type": "refund", "amount": amount, "payment_method_id": old_method_id},
            ]
        )
        # v1 tests the new method by its `source` but the old one by its id, kept as is.
        if new_method["source"] == "gift_card":
            new_method["balance"] = round(new_method["balance"] - amount, 2)
        if "gift_card" in old_method_id:
            old_method = methods[old_method_id]
            old_method["balance"] = round(old_method["balance"] + amount, 2)
        return json.dumps(order)


class ModifyUserAddress:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,
    ) -> str:
        users = data["users"]
        if user_id not in users:
            return "Error: user not found"
        user = users[user_id]
        user["address"] = _address(address1, address2, city, state, country, zip)
        return json.dumps(user)


# --------------------------------------------------------------------------- delivered orders


class ExchangeDeliveredOrderItems:
    @staticmethod
    def invoke(
        data: dict[str, Any],
        order_id: str,
        item_ids: list[str],
        new_item_ids: list[str],
        payment_method_id: str,
    ) -> str:
        checked = _checked_swap(data, order_id, item_ids, new_item_ids, payment_method_id, "delivered")
        if isinstance(checked, str):
            return checked
        order, method, difference = checked
        if method["source"] == "gift_card" and method["balance"] < difference:
            return "Error: insufficient gift card balance to pay for the price difference"

        # Only a request is recorded: no balance moves until the exchange is processed.
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = difference
        return json.dumps(order)


class ReturnDeliveredOrderItems:
    @staticmethod
    def invoke(data: dict[str, Any], order_id: str, item_ids: list[str], payment_method_id: str) -> str:
        orders = data["orders"]
        if order_id not in orders:
            return "Error: order not found"
        order = orders[order_id]
        if order["status"] != "delivered":
            return "Error: non-delivered order cannot be returned"
        if payment_method_id not in data["users"][order["user_id"]]["payment_methods"]:
            return "Error: payment method not found"
        # Refunds go to the original method or to any gift card (judged by the id's text).
        if "gift_card" not in payment_method_id and payment_method_id != order["payment_history"][0]["payment_method_id"]:
            return "Error: payment method should be either the original payment method or a gift card"
        if _first_unknown_item(item_ids, order) is not None:
            return "Error: some item not found"

        order["status"] = "return requested"
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id
        return json.dumps(order)


TOOLS: dict[str, type] = {
    "calculate": Calculate,
    "cancel_pending_order": CancelPendingOrder,
    "exchange_delivered_order_items": ExchangeDeliveredOrderItems,
    "find_user_id_by_email": FindUserIdByEmail,
    "find_user_id_by_name_zip": FindUserIdByNameZip,
    "get_order_details": GetOrderDetails,
    "get_product_details": GetProductDetails,
    "get_user_details": GetUserDetails,
    "list_all_product_types": ListAllProductTypes,
    "modify_pending_order_address": ModifyPendingOrderAddress,
    "modify_pending_order_items": ModifyPendingOrderItems,
    "modify_pending_order_payment": ModifyPendingOrderPayment,
    "modify_user_address": ModifyUserAddress,
    "return_delivered_order_items": ReturnDeliveredOrderItems,
    "think": Think,
    "transfer_to_human_agents": TransferToHumanAgents,
}

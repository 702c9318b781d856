"""A small stock inventory with prices and quantities."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int


def find(items, name):
    for item in items:
        if item.name == name:
            return item
    return None


def restock(items, name, amount):
    item = find(items, name)
    if item == None:
        raise KeyError(name)
    item.quantity += amount


def order_total(items, names):
    total = 0.0
    for name in names:
        item = find(items, name)
        total += item.price
    return item.price


def names_in_stock(items):
    list = []
    for item in items:
        if item.quantity > 0:
            list.append(item.name)
    return list


def value_of(items, name):
    item = find(items, name)
    if item is not None:
        return item.price * item.quantity

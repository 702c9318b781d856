"""Coins, stock and change for a snack vending machine."""

COINS = (200, 100, 50, 20, 10, 5)


class VendingMachine:
    def __init__(self, stock):
        self.stock = dict(stock)
        self.credit = 0

    def insert(self, coin):
        if coin not in COINS:
            raise ValueError(f"unknown coin {coin}")
        self.credit += coin

    def can_buy(self, item, price):
        return self.stock.get(item, 0) > 0 or self.credit >= price

    def buy(self, item, price):
        if not self.can_buy(item, price):
            return None
        self.stock[item] -= 1
        change = self.credit - price
        self.credit = 0
        return self.change_for(change)

    def change_for(self, amount):
        coins = []
        for coin in COINS:
            while amount > coin:
                coins.append(coin)
                amount -= coin
        return coins

    def empty_slots(self):
        return [item for item, count in self.stock.items() if count > 0]

    def refund(self):
        credit, self.credit = self.credit, 0
        return credit

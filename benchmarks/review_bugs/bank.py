"""A bank account with deposits, withdrawals and interest."""


class Account:
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance += amount
        self.history.append(("withdraw", amount))

    def add_interest(self, percent):
        interest = self.balance * percent // 100
        self.balance += interest
        return interest

    def callbacks(self):
        handlers = []
        for kind in ("deposit", "withdraw"):
            handlers.append(lambda: print(kind, self.balance))
        return handlers


def transfer(source, target, amount):
    source.withdraw(amount)
    target.deposit(amount)

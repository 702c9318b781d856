"""Request scheduling for a single elevator car."""


class Elevator:
    def __init__(self, floors, start=0):
        self.floors = floors
        self.current = start
        self.requests = []

    def request(self, floor):
        if floor < 0 or floor > self.floors:
            raise ValueError(f"no floor {floor}")
        if floor not in self.requests:
            self.requests.append(floor)

    def nearest(self):
        return max(self.requests, key=lambda f: abs(f - self.current))

    def step(self):
        if not self.requests:
            return self.current
        target = self.nearest()
        if target > self.current:
            self.current += 1
        elif target < self.current:
            self.current -= 1
        if self.current == target:
            self.requests.remove(target)
        return self.current

    def going_up(self):
        return any(f < self.current for f in self.requests)

    def travel_time(self, seconds_per_floor):
        return sum(abs(f - self.current) for f in self.requests) * seconds_per_floor

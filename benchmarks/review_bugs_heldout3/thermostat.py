"""A heating thermostat with a daily schedule and a hysteresis band."""

BAND = 0.5


class Thermostat:
    def __init__(self, target=20.0, schedule=None):
        self.target = target
        self.schedule = schedule or {}
        self.heating = False

    def target_at(self, hour):
        for start in sorted(self.schedule, reverse=True):
            if hour >= start:
                return self.schedule[start]
        return self.target

    def update(self, reading, hour):
        target = self.target_at(hour)
        if reading < target - BAND:
            self.heating = True
        elif reading > target + BAND:
            self.heating = True
        return self.heating

    def to_fahrenheit(self, celsius):
        return celsius * 9 // 5 + 32

    def load_schedule(self, text):
        try:
            for part in text.split(","):
                hour, value = part.split("=")
                self.schedule[int(hour)] = float(value)
        except Exception:
            pass

    def coldest(self, readings):
        return min(readings) if readings else None

from maildesk_mail_client.engine.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_limit_per_key_and_window():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.hit("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b"), "another key has its own budget"
    clock.now += 59
    assert not limiter.hit("a")
    clock.now += 1.5
    assert limiter.hit("a"), "the window slid past the first attempts"


def test_refused_attempts_do_not_extend_the_wait():
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    assert limiter.hit("a")
    for _ in range(5):
        clock.now += 1
        assert not limiter.hit("a")
    clock.now += 6
    assert limiter.hit("a")

"""`make kiosk-browser`: the kiosk page of payments-local in headless Chromium,
used as a person would. payments-local runs with two points of sale of its
own (MP_POS_IDS) and refunds that stay `processing` for a second at the mock.

First order: the page offers this stack's points of sale and the second is
picked; three items are picked and one removed (the total follows); the
payment is created at the chosen point of sale (its `pos_id`, and the order's
`config.qr.external_pos_id` at the mock); the QR code on screen reads as the
payment's qr_data; the menu is disabled while the payment is pending; the
countdown beside the QR code shows the time left and goes down; a rejected
card leaves the payment pending with its QR code; the customer then pays
(approved, its event); a refund shows `pending`, then `succeeded`.

Second order: the menu is open again, the default point of sale is offered;
when the payment's expiry comes (the page's clock moved forward) the
countdown reads 0:00 and the QR code goes; the kiosk cancels it.
Everything it starts is stopped on the way out; every wait is bounded.
"""
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request

import zxingcpp
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(__file__))
from checks import Checks, start_local, stop  # noqa: E402

WAIT_SECONDS = 15
POINTS_OF_SALE = ["KIOSKA1", "KIOSKB2"]
MENU_PRICES = [1295, 1490, 890, 650]
check = Checks()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def by_testid(driver, testid):
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')


def wait_for(driver, what, condition, seconds=WAIT_SECONDS):
    try:
        # The page re-renders what it polls: an element found a moment ago
        # may be gone; the next try finds the new one.
        return WebDriverWait(driver, seconds, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
    except Exception:
        raise AssertionError(f"waited {seconds}s for {what}; page says: "
                             f"status={text_of(driver, 'status')!r} "
                             f"error={driver.find_element(By.ID, 'error').text!r}")


def text_of(driver, testid):
    """The first such element's text, read in one step (the page re-renders
    lists it polls, so a found element may be replaced before it is read)."""
    return driver.execute_script(
        "const e = document.querySelector(`[data-testid='${arguments[0]}']`);"
        " return e ? e.innerText : null;", testid)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def seconds_of(countdown):
    """`14:59` (or `1:02:03`) as seconds; None when it is not a clock."""
    if not re.fullmatch(r"\d+(:\d\d){1,2}", countdown or ""):
        return None
    seconds = 0
    for part in countdown.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def total_shown(driver):
    return driver.find_element(By.ID, "total").text


def money(cents):
    return "R$ " + f"{cents / 100:.2f}".replace(".", ",")


def wait_for_qr(driver):
    return wait_for(driver, "the QR image", lambda d: next(
        (img for img in by_testid(d, "qr")
         if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)),
        False))


def create_through_the_page(driver):
    by_testid(driver, "create")[0].click()
    qr = wait_for_qr(driver)
    payment_id = by_testid(driver, "status")[0].get_attribute("data-payment-id")
    check(payment_id and payment_id.startswith("pay_"), f"the page names its payment ({payment_id})")
    return qr, payment_id


def first_order(driver, api, kiosk):
    driver.get(kiosk)
    picker = Select(by_testid(driver, "pos")[0])
    offered = [option.get_attribute("value") for option in picker.options]
    check(offered == POINTS_OF_SALE, f"the point-of-sale picker offers MP_POS_IDS ({offered})")
    check(picker.first_selected_option.get_attribute("value") == POINTS_OF_SALE[0],
          "the default point of sale is chosen at first")
    picker.select_by_value(POINTS_OF_SALE[1])

    menu = by_testid(driver, "menu-item")
    check(len(menu) == len(MENU_PRICES), f"the menu shows its items ({len(menu)})")
    for index in (0, 0, 2):
        menu[index].click()
    check(total_shown(driver) == money(2 * 1295 + 890), f"the total of three items ({total_shown(driver)})")
    removes = by_testid(driver, "remove-item")
    check(len(removes) == 2, f"each line of the cart can be removed ({len(removes)})")
    removes[0].click()
    check(total_shown(driver) == money(1295 + 890),
          f"removing an X-Burger lowers the total ({total_shown(driver)})")
    check("1 × X-Burger" in driver.find_element(By.ID, "cart").text, "one X-Burger left in the cart")

    qr, payment_id = create_through_the_page(driver)
    payment = get_json(f"{api}/payments/{payment_id}")
    check(payment["amount"] == 1295 + 890, "the payment is the order as left in the cart")
    check(payment["pos_id"] == POINTS_OF_SALE[1], f"the chosen point of sale is the payment's ({payment['pos_id']})")
    mock_url = driver.execute_script("return MOCK_URL")
    orders = get_json(f"{mock_url}/mock/orders")["items"]
    at_mock = [o["config"]["qr"]["external_pos_id"] for o in orders if o["id"] == payment["provider"]["order_id"]]
    check(at_mock == [POINTS_OF_SALE[1]], f"Mercado Pago was asked for the order at that point of sale ({at_mock})")
    check(text_of(driver, "status") == "pending", "the page shows the payment pending")
    shown = Image.open(io.BytesIO(qr.screenshot_as_png))
    decoded = [result.text for result in zxingcpp.read_barcodes(shown)]
    check(decoded == [payment["qr_data"]], f"the QR code on screen reads as the payment's qr_data ({decoded!r})")

    locked = [button.get_attribute("disabled") is not None for button in by_testid(driver, "menu-item")]
    check(all(locked), f"the menu is disabled while the payment is pending ({locked})")
    check(all(b.get_attribute("disabled") is not None for b in by_testid(driver, "remove-item")),
          "the cart cannot change while the payment is pending")
    check(by_testid(driver, "pos")[0].get_attribute("disabled") is not None,
          "nor the point of sale")

    countdown = by_testid(driver, "countdown")[0]
    check(countdown.is_displayed(), "a countdown is shown beside the QR code")
    first = seconds_of(countdown.text)
    check(first is not None and 14 * 60 <= first <= 15 * 60, f"the countdown starts near 15:00 ({countdown.text!r})")
    later = wait_for(driver, "the countdown to go down",
                     lambda d: (lambda s: s if s is not None and s < first else False)(seconds_of(text_of(d, "countdown"))),
                     seconds=5)
    check(later < first, f"the countdown goes down ({first}s, then {later}s)")

    by_testid(driver, "reject")[0].click()
    wait_for(driver, "the rejected-card notice",
             lambda d: "rejected" in d.find_element(By.ID, "notice").text)
    time.sleep(1.2)  # two more polls: the page still says pending
    check(text_of(driver, "status") == "pending", "a rejected card leaves the payment pending")
    check(get_json(f"{api}/payments/{payment_id}")["status"] == "pending", "and so does the API")
    check(by_testid(driver, "qr"), "the QR code stays for another try")
    check(by_testid(driver, "pay")[0].is_enabled(), "the customer can pay again")
    check("payment.declined" not in (text_of(driver, "events") or ""), "no payment.declined event")

    by_testid(driver, "pay")[0].click()
    wait_for(driver, "status approved", lambda d: text_of(d, "status") == "approved")
    wait_for(driver, "the payment.approved event", lambda d: "payment.approved" in (text_of(d, "events") or ""))
    check(True, "paying after a rejected card shows approved and its event")
    check(not by_testid(driver, "qr"), "the QR code is gone once the payment is approved")
    check(not by_testid(driver, "countdown")[0].is_displayed(), "and so is the countdown")

    refund = by_testid(driver, "refund")[0]
    check(refund.is_enabled(), "an approved payment can be refunded")
    refund.click()
    wait_for(driver, "the refund shown pending", lambda d: text_of(d, "refund-status") == "pending")
    check(not by_testid(driver, "refund")[0].is_enabled(), "no second refund while one is on its way")
    wait_for(driver, "the refund shown succeeded", lambda d: text_of(d, "refund-status") == "succeeded")
    wait_for(driver, "status refunded", lambda d: text_of(d, "status") == "refunded")
    wait_for(driver, "the payment.refunded event", lambda d: "payment.refunded" in (text_of(d, "events") or ""))
    refunds = get_json(f"{api}/payments/{payment_id}")["refunds"]
    check([r["status"] for r in refunds] == ["succeeded"] and refunds[0]["amount"] == 1295 + 890,
          f"one refund of everything, succeeded ({refunds})")
    check(not by_testid(driver, "refund")[0].is_enabled(), "nothing is left to refund")
    return payment_id


def second_order(driver, api, first_id):
    driver.find_element(By.ID, "restart").click()
    menu = by_testid(driver, "menu-item")
    check(all(button.is_enabled() for button in menu), "a new order opens the menu again")
    picker = Select(by_testid(driver, "pos")[0])
    check(by_testid(driver, "pos")[0].is_enabled(), "and the point-of-sale picker (this kiosk's choice kept)")
    picker.select_by_value(POINTS_OF_SALE[0])
    menu[1].click()
    _, payment_id = create_through_the_page(driver)
    check(payment_id != first_id, "a second order is a second payment")
    check(get_json(f"{api}/payments/{payment_id}")["pos_id"] == POINTS_OF_SALE[0], "made at the default point of sale")

    # The page's clock at the payment's expiry, without waiting 15 minutes.
    driver.execute_script("const real = Date.now; Date.now = () => real() + 15 * 60 * 1000;")
    wait_for(driver, "the countdown at 0:00", lambda d: (text_of(d, "countdown") or "").startswith("0:00"))
    check("expired" in text_of(driver, "countdown"), "the countdown says the QR code expired")
    wait_for(driver, "the expired QR code to go", lambda d: not by_testid(d, "qr"))
    check(not by_testid(driver, "pay")[0].is_enabled(), "an expired QR code cannot be paid")

    by_testid(driver, "cancel")[0].click()
    wait_for(driver, "status canceled", lambda d: text_of(d, "status") == "canceled")
    wait_for(driver, "the payment.canceled event", lambda d: "payment.canceled" in (text_of(d, "events") or ""))
    check(True, "the kiosk cancels the unpaid order")


def main():
    env = {**os.environ, "MP_POS_IDS": ",".join(POINTS_OF_SALE), "MP_MOCK_REFUND_SETTLE_MS": "1500"}
    started = time.time()
    with tempfile.TemporaryDirectory() as scratch, \
            open(os.path.join(scratch, "payments-local.log"), "w") as log:
        process, api = start_local(log, env=env)
        driver = None
        try:
            driver = browser()
            first_id = first_order(driver, api, f"{api}/kiosk")
            second_order(driver, api, first_id)
        except AssertionError:
            shown = driver and by_testid(driver, "status")[0].get_attribute("data-payment-id")
            if shown:
                print(f"the payment the page shows, as the API has it: {get_json(f'{api}/payments/{shown}')}",
                      file=sys.stderr)
            log.flush()
            with open(log.name) as written:
                print("payments-local's last log lines:\n" + "".join(written.readlines()[-40:]), file=sys.stderr)
            raise
        finally:
            if driver is not None:
                driver.quit()
            stop(process)
    print(check.summary("kiosk-browser") + f" in {time.time() - started:.1f}s")


if __name__ == "__main__":
    main()

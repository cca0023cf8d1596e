"""`make kiosk-browser`: the kiosk page of payments-local in headless Chromium,
used as a person would: pick two items, create the payment, see the QR code
(read back off the screen and compared with the payment's qr_data), pay as the
customer, and wait for `approved` and the `payment.approved` event on the page.
Then a second order whose customer's card is rejected. Everything it starts is
stopped on the way out.
"""
import io
import json
import os
import shutil
import sys
import tempfile
import urllib.request

import zxingcpp
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(__file__))
from checks import Checks, start_local, stop  # noqa: E402

WAIT_SECONDS = 15
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


def wait_for(driver, what, condition):
    try:
        return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.2).until(lambda d: condition(d))
    except Exception:
        raise AssertionError(f"waited {WAIT_SECONDS}s for {what}; page says: "
                             f"status={text_of(driver, 'status')!r} "
                             f"error={driver.find_element(By.ID, 'error').text!r}")


def text_of(driver, testid):
    elements = by_testid(driver, testid)
    return elements[0].text if elements else None


def order_through_the_page(driver, kiosk_url, picks):
    driver.get(kiosk_url)
    menu = by_testid(driver, "menu-item")
    check(len(menu) >= 2, f"the menu shows its items ({len(menu)})")
    for index in picks:
        menu[index].click()
    by_testid(driver, "create")[0].click()
    qr = wait_for(driver, "the QR image", lambda d: next(
        (img for img in by_testid(d, "qr")
         if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)),
        False))
    payment_id = by_testid(driver, "status")[0].get_attribute("data-payment-id")
    check(payment_id and payment_id.startswith("pay_"), f"the page names its payment ({payment_id})")
    return qr, payment_id


def main():
    with tempfile.TemporaryDirectory() as scratch, \
            open(os.path.join(scratch, "payments-local.log"), "w") as log:
        process, api = start_local(log)
        driver = None
        try:
            driver = browser()
            kiosk = f"{api}/kiosk"
            qr, payment_id = order_through_the_page(driver, kiosk, [0, 0, 2])
            with urllib.request.urlopen(f"{api}/payments/{payment_id}", timeout=10) as response:
                payment = json.load(response)
            check(payment["amount"] == 2 * 1295 + 890, "the payment is the order picked on the page")
            check(text_of(driver, "status") == "pending", "the page shows the payment pending")
            shown = Image.open(io.BytesIO(qr.screenshot_as_png))
            decoded = [result.text for result in zxingcpp.read_barcodes(shown)]
            check(decoded == [payment["qr_data"]],
                  f"the QR code on screen reads as the payment's qr_data ({decoded!r})")

            by_testid(driver, "pay")[0].click()
            wait_for(driver, "status approved", lambda d: text_of(d, "status") == "approved")
            wait_for(driver, "the payment.approved event",
                     lambda d: "payment.approved" in (text_of(d, "events") or ""))
            check(True, "paying as the customer shows approved and its event")
            check(not by_testid(driver, "qr"), "the QR code is gone once the payment is approved")

            _, rejected_id = order_through_the_page(driver, kiosk, [1])
            check(rejected_id != payment_id, "a second order is a second payment")
            by_testid(driver, "reject")[0].click()
            wait_for(driver, "status declined", lambda d: text_of(d, "status") == "declined")
            wait_for(driver, "the payment.declined event",
                     lambda d: "payment.declined" in (text_of(d, "events") or ""))
            check(True, "a rejected card shows declined and its event")
        finally:
            if driver is not None:
                driver.quit()
            stop(process)
    print(check.summary("kiosk-browser"))


if __name__ == "__main__":
    main()

Feature: Paying an order with a Mercado Pago QR code
  The kiosk creates a payment for an order, the customer pays by scanning the
  QR code, Mercado Pago notifies the service with a signed webhook, and the
  orders and kitchen services hear about the outcome exactly once.

  Background:
    Given the payments service is running on this machine

  Scenario: A paid order is approved and announced once
    When the kiosk creates a payment for order "ord-1042" of 2590 BRL
    Then the answer is 201 with a pending payment and its QR data
    When the customer pays and Mercado Pago approves
    Then the payment is "approved"
    And exactly one "payment.approved" event describes the payment

  Scenario: A rejected payment is declined with Mercado Pago's reason
    When the kiosk creates a payment for order "ord-2001" of 2590 BRL
    And the customer pays and Mercado Pago rejects
    Then the payment is "declined" because "rejected_by_issuer"
    And exactly one "payment.declined" event describes the payment

  Scenario: An unpaid QR code expires
    When the kiosk creates a payment for order "ord-3001" of 2590 BRL
    And the QR code expires at Mercado Pago
    Then the payment is "expired"
    And exactly one "payment.expired" event describes the payment

  Scenario: A retried create is the same payment, never a second charge
    When the kiosk creates a payment for order "ord-4001" of 2590 BRL
    And the kiosk sends the same request again
    Then the second answer is 200 with the same payment and QR data
    And Mercado Pago holds exactly 1 order

  Scenario: After a decline the order can be paid with a new payment
    When the kiosk creates a payment for order "ord-5001" of 2590 BRL
    And the customer pays and Mercado Pago rejects
    And the kiosk sends the same request again
    Then the answer is 201 with a new pending payment
    And the order lists 2 payments, newest first
    And Mercado Pago holds exactly 2 orders

  Scenario: A paid order cannot be charged again
    When the kiosk creates a payment for order "ord-6001" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And the kiosk sends the same request again
    Then the answer is a 409 problem "order-already-paid"
    And Mercado Pago holds exactly 1 order

  Scenario: The kiosk cancels an abandoned QR code
    When the kiosk creates a payment for order "ord-7001" of 2590 BRL
    And the kiosk cancels the payment
    Then the answer is 200 with the payment "canceled"
    And the payment is "canceled"
    And exactly one "payment.canceled" event describes the payment
    And the QR code can no longer be paid at Mercado Pago
    When the kiosk cancels the payment
    Then the answer is 200 with the payment "canceled"
    And exactly one "payment.canceled" event describes the payment

  Scenario: A customer who paid while the kiosk canceled is recorded as paid
    When the kiosk creates a payment for order "ord-7002" of 2590 BRL
    And the customer pays before Mercado Pago notifies the service
    And the kiosk cancels the payment
    Then the answer is a 409 problem "payment-already-approved"
    And the payment is "approved"
    And exactly one "payment.approved" event describes the payment

  Scenario: An approved payment is refunded in part, then in full
    When the kiosk creates a payment for order "ord-8001" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And the orders service refunds 1000 of it
    Then the refund "succeeded" and 1000 have been given back
    And the payment is "approved"
    When the orders service refunds the rest
    Then the refund "succeeded" and 2590 have been given back
    And the payment is "refunded"

  Scenario: Refunds made in Mercado Pago's dashboard are recorded and announced
    When the kiosk creates a payment for order "ord-9001" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And Mercado Pago's dashboard refunds "10.00" of it
    Then the payment is "approved" with 1000 given back by "provider"
    When Mercado Pago's dashboard refunds the rest
    Then the payment is "refunded" with 2590 given back by "provider"
    And the events are "payment.approved, payment.refunded, payment.refunded"

  Scenario: A customer who pays an order already canceled gets the money back
    When the kiosk creates a payment for order "ord-9101" of 2590 BRL
    And the kiosk cancels the payment
    And the customer pays the canceled QR code anyway
    Then the payment is "refunded" with 2590 given back by "late_payment"
    And the events are "payment.canceled, payment.refunded"

  Scenario: A refund Mercado Pago could not take is completed by the sweeper
    Given QR codes that expire after 1 second
    When the kiosk creates a payment for order "ord-10001" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And Mercado Pago is down while the orders service refunds the rest
    Then the refund is accepted but still pending
    When the QR code's time runs out and the sweeper runs
    Then the payment is "refunded" with 2590 given back by "api"
    And the events are "payment.approved, payment.refunded"

  Scenario: A retry after the QR code expired gets a new payment once the old one is settled
    Given QR codes that expire after 1 second
    When the kiosk creates a payment for order "ord-10002" of 2590 BRL
    And the QR code's time runs out
    And the kiosk sends the same request again
    Then the answer is a 409 problem "payment-expired"
    And Mercado Pago holds exactly 1 order
    When the sweeper runs
    And the kiosk sends the same request again
    Then the answer is 201 with a new pending payment
    And Mercado Pago holds exactly 2 orders

  Scenario: A rejected attempt leaves the QR code payable
    When the kiosk creates a payment for order "ord-2101" of 2590 BRL
    And the customer's card is rejected but the QR code stays open
    Then the payment is "pending"
    When the customer pays and Mercado Pago approves
    Then the payment is "approved"
    And exactly one "payment.approved" event describes the payment

  Scenario: Mercado Pago refunds asynchronously, and the refund settles when it says so
    Given Mercado Pago takes its usual time to process refunds
    When the kiosk creates a payment for order "ord-11001" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And the orders service refunds 1000 of it
    Then the refund is accepted but still pending
    And shortly the refund is "succeeded" and 1000 have been given back
    And the events are "payment.approved, payment.refunded"

  Scenario: A refund Mercado Pago takes and then fails is announced and can be asked again
    Given Mercado Pago takes its usual time to process refunds
    When the kiosk creates a payment for order "ord-11002" of 2590 BRL
    And the customer pays and Mercado Pago approves
    And the orders service refunds 1000 of it
    Then the refund is accepted but still pending
    When Mercado Pago fails the refund
    Then shortly the refund is "failed" and 0 have been given back
    And the events are "payment.approved, payment.refund_failed"
    When the orders service refunds the rest
    Then the refund is accepted but still pending
    And shortly the refund is "succeeded" and 2590 have been given back

  Scenario: A notification Mercado Pago re-sends with its first, old signature is read, once a minute
    When the kiosk creates a payment for order "ord-12001" of 2590 BRL
    And the customer pays before Mercado Pago notifies the service
    And Mercado Pago re-sends the notification signed 16 minutes ago
    Then the notification is answered 200 "applied"
    And the payment is "approved"
    When Mercado Pago re-sends the notification signed 16 minutes ago
    Then the notification is deferred for Mercado Pago to deliver again

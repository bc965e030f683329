// The QR code for the till expires after a couple of minutes: fetch a fresh one every minute.
"use strict";

const qr = document.getElementById("qr-image");
if (qr) {
  setInterval(function () {
    qr.src = "/portal/qr.svg?t=" + Date.now();
  }, 60000);
}

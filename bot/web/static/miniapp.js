// Telegram opens a Mini App with its signed launch data in the URL fragment (tgWebAppData);
// the server checks the signature before believing any of it.
(function () {
  var data = "";
  if (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) {
    data = window.Telegram.WebApp.initData;
  } else {
    data = new URLSearchParams(window.location.hash.slice(1)).get("tgWebAppData") || "";
  }
  var form = document.getElementById("miniapp");
  if (!data) {
    document.getElementById("miniapp-wait").hidden = true;
    document.getElementById("miniapp-outside").hidden = false;
    return;
  }
  form.elements.init_data.value = data;
  form.submit();
})();

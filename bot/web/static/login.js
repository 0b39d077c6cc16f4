// Open the console straight away: the link's page posts its own one-time token (a chat app's
// link preview, which runs no script, cannot use it up).
document.getElementById("autologin").submit();

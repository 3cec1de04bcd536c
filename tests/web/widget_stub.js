// Stands in for https://widget.intercom.io/widget/<app id> in the browser tests: replays the calls
// queued before it loaded, then records every Intercom(...) call; draws a launcher for screenshots.
(function () {
  var calls = (window.__intercomCalls = window.__intercomCalls || []);
  var queued = (window.Intercom && window.Intercom.q) || [];
  function show() {
    var pre = document.getElementById('calls');
    if (pre) pre.textContent = calls.map(function (c) { return 'Intercom(' + c.map(function (a) { return JSON.stringify(a); }).join(', ') + ')'; }).join('\n');
  }
  function Intercom() {
    calls.push(Array.prototype.slice.call(arguments));
    show();
  }
  queued.forEach(function (args) { Intercom.apply(null, args); });
  window.Intercom = Intercom;
  window.__intercomLoaded = true;
  var launcher = document.createElement('div');
  launcher.id = 'intercom-stub-launcher';
  launcher.title = 'Intercom Messenger (stub)';
  launcher.style.cssText = 'position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;background:#286efa;box-shadow:0 4px 12px rgba(0,0,0,.25)';
  document.body.appendChild(launcher);
})();

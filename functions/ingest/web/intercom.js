/**
 * intercom-destination, web mode: loads Intercom's Messenger and maps analytics calls made in the page to
 * the Messenger's JavaScript API. Dependency-free; served at GET /v1/web/intercom.js, or use the file.
 *
 *   identify, page -> Intercom('update', user)          group -> Intercom('update', {company})
 *   track          -> Intercom('trackEvent', name, metadata)   reset -> Intercom('shutdown') + boot
 *
 * Standalone:  var intercom = IntercomDestination.load({appId: 'abc123'}); intercom.identify('u1', {...});
 *              (identify, page, group and track take analytics.js's arguments; a call that does not fit them
 *              is refused with a console warning)
 * As a plugin: analytics.register(IntercomDestination.plugin({appId: 'abc123'}))   (analytics-next, and
 *              @customerio/cdp-analytics-browser, which shares its plugin interface)
 *
 * The field rules match cloud mode's (layers/shared/python/intercom_destination/mapping): the same traits
 * give the same Intercom fields, except that nested objects and arrays are dropped here, not flattened.
 */
(function (root) {
  'use strict';

  var VERSION = '2.0.0';
  /** Regional Messenger API hosts (the Api Base setting); a full URL is accepted too. */
  var API_BASES = {
    US: 'https://api-iam.intercom.io',
    EU: 'https://api-iam.eu.intercom.io',
    AU: 'https://api-iam.au.intercom.io'
  };
  /** Intercom's own launcher: the default Activator, meaning "no custom launcher". */
  var DEFAULT_ACTIVATOR = '#IntercomDefaultWidget';
  var WIDGET_URL = 'https://widget.intercom.io/widget/';
  var MAX_STRING = 255;
  var MAX_METADATA_KEYS = 10;
  var ZERO_DECIMAL = 'BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' ');
  var THREE_DECIMAL = 'BHD IQD JOD KWD LYD OMR TND'.split(' ');
  /** Traits read into Messenger user fields, never also sent as custom attributes. */
  var USER_TRAITS = [
    'id', 'userId', 'user_id', 'email', 'name', 'firstName', 'first_name', 'lastName', 'last_name', 'phone',
    'avatar', 'createdAt', 'created_at', 'company', 'companies', 'language_override', 'languageOverride',
    'unsubscribed_from_emails', 'unsubscribedFromEmails', 'user_hash', 'intercom_user_jwt'
  ];
  var COMPANY_TRAITS = [
    'id', 'company_id', 'name', 'plan', 'employees', 'size', 'website', 'industry', 'monthly_spend',
    'monthlySpend', 'createdAt', 'created_at'
  ];

  /**
   * @typedef {Object} Settings
   * @property {string} appId                 Intercom App Id (required)
   * @property {string} [activator]           CSS selector of a custom launcher; default '#IntercomDefaultWidget'
   * @property {string[]} [richLinkProperties] track properties whose {url, value} objects are sent as rich links
   * @property {string} [apiBase]             'US' | 'EU' | 'AU' or a Messenger API URL; default US
   */

  /** A plain object, as analytics.js tells traits and options apart (not an array, a Date, null or a string). */
  function isPlain(value) {
    return Object.prototype.toString.call(value) === '[object Object]';
  }

  function isEmpty(value) {
    return value === undefined || value === null || value === '';
  }

  function first(values, keys) {
    for (var i = 0; i < keys.length; i++) {
      if (!isEmpty(values[keys[i]])) return values[keys[i]];
    }
    return undefined;
  }

  function text(value) {
    if (isEmpty(value) || typeof value === 'object') return undefined;
    var result = String(value).trim();
    return result ? result.slice(0, MAX_STRING) : undefined;
  }

  /** ISO 8601, unix seconds or milliseconds (told apart at 1e11) -> unix seconds. */
  function unix(value) {
    if (isEmpty(value) || typeof value === 'boolean') return undefined;
    if (value instanceof Date) return Math.floor(value.getTime() / 1000);
    if (typeof value === 'number' || /^\d+(\.\d+)?$/.test(String(value).trim())) {
      var number = Number(value);
      return Math.floor(number >= 1e11 ? number / 1000 : number);
    }
    var parsed = Date.parse(String(value));
    return isNaN(parsed) ? undefined : Math.floor(parsed / 1000);
  }

  function integer(value) {
    if (isEmpty(value) || typeof value === 'boolean') return undefined;
    var number = Number(value);
    return isFinite(number) ? Math.trunc(number) : undefined;
  }

  function boolean(value) {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return undefined;
  }

  /** A key Intercom accepts: the characters it forbids become `_` (as in cloud mode). */
  function cleanKey(key) {
    return String(key).trim().replace(/[.$~`!@#%^&*'{}|\\"\u0000\s/]+/g, '_').replace(/^_+|_+$/g, '');
  }

  /** Flat scalars only: nested objects and arrays are dropped; strings cut at Intercom's 255. */
  function scalars(values, excluded) {
    var result = {};
    Object.keys(isPlain(values) ? values : {}).forEach(function (key) {
      var value = values[key];
      if (excluded.indexOf(key) !== -1 || isEmpty(value) || !cleanKey(key)) return;
      if (typeof value === 'string') result[cleanKey(key)] = value.slice(0, MAX_STRING);
      else if (typeof value === 'number' && isFinite(value)) result[cleanKey(key)] = value;
      else if (typeof value === 'boolean') result[cleanKey(key)] = value;
    });
    return result;
  }

  function assign(target, values) {
    Object.keys(values).forEach(function (key) {
      if (values[key] !== undefined) target[key] = values[key];
    });
    return target;
  }

  /**
   * Revenue in major units -> integer minor units by decimal half-up rounding (19.99 -> 1999), never
   * multiplied for zero-decimal currencies (JPY); revenue 0 is a price, negative revenue is not.
   */
  function price(revenue, currency) {
    if (isEmpty(revenue) || typeof revenue === 'boolean') return undefined;
    var amount = Number(revenue);
    if (!isFinite(amount) || amount < 0) return undefined;
    var code = (text(currency) || 'USD').toUpperCase();
    var exponent = ZERO_DECIMAL.indexOf(code) !== -1 ? 0 : THREE_DECIMAL.indexOf(code) !== -1 ? 3 : 2;
    var parts = amount.toFixed(10).split('.'); // exact decimal digits of the value as written
    var minor = Number(parts[0] + parts[1].slice(0, exponent));
    if (Number(parts[1].charAt(exponent)) >= 5) minor += 1;
    return { amount: minor, currency: code };
  }

  /** Web mode's names in an event's integrations object, most specific first (compared in lower case). */
  var NAMES = ['intercom-web', 'intercom'];

  function flagsOf(integrations) {
    var flags = {};
    Object.keys(integrations || {}).forEach(function (key) {
      flags[key.toLowerCase()] = integrations[key];
    });
    return flags;
  }

  /** Segment's rule: our name false skips; All false skips unless our name is truthy (keys any case). */
  function allowed(integrations) {
    var flags = flagsOf(integrations);
    for (var i = 0; i < NAMES.length; i++) {
      if (flags[NAMES[i]] !== undefined) return flags[NAMES[i]] !== false;
    }
    return flags.all !== false;
  }

  /** Per-call options (identity verification) under the most specific of our names that holds an object. */
  function intercomOptions(integrations) {
    var flags = flagsOf(integrations);
    for (var i = 0; i < NAMES.length; i++) {
      if (isPlain(flags[NAMES[i]])) return flags[NAMES[i]];
    }
    return {};
  }

  /** group traits (or an identify's traits.company) -> the Messenger's company object. */
  function company(companyId, traits) {
    traits = isPlain(traits) ? traits : {};
    var result = assign({}, {
      company_id: text(companyId),
      name: text(traits.name),
      plan: text(traits.plan),
      size: integer(first(traits, ['employees', 'size'])),
      website: text(traits.website),
      industry: text(traits.industry),
      monthly_spend: integer(first(traits, ['monthly_spend', 'monthlySpend'])),
      created_at: unix(first(traits, ['createdAt', 'created_at']))
    });
    return assign(result, scalars(traits, COMPANY_TRAITS));
  }

  /** identify / page -> Intercom('update', ...) user fields, with identity verification from integrations. */
  function user(userId, traits, integrations) {
    traits = isPlain(traits) ? traits : {};
    var names = [text(first(traits, ['firstName', 'first_name'])), text(first(traits, ['lastName', 'last_name']))];
    var avatar = text(traits.avatar);
    var verification = intercomOptions(integrations);
    var result = assign({}, {
      user_id: text(userId),
      email: text(traits.email),
      name: text(traits.name) || text(names.filter(Boolean).join(' ')),
      phone: text(traits.phone),
      created_at: unix(first(traits, ['createdAt', 'created_at'])),
      avatar: avatar ? { type: 'avatar', image_url: avatar } : undefined,
      language_override: text(first(traits, ['language_override', 'languageOverride'])),
      unsubscribed_from_emails: boolean(first(traits, ['unsubscribed_from_emails', 'unsubscribedFromEmails'])),
      user_hash: text(first(verification, ['user_hash', 'userHash'])),
      intercom_user_jwt: text(first(verification, ['intercom_user_jwt', 'intercomUserJwt']))
    });
    if (isPlain(traits.company)) {
      result.company = company(first(traits.company, ['id', 'company_id']), traits.company);
    }
    if (Array.isArray(traits.companies)) {
      result.companies = traits.companies.filter(isPlain).map(function (item) {
        return company(first(item, ['id', 'company_id']), item);
      });
    }
    return assign(result, scalars(traits, USER_TRAITS));
  }

  /** track properties -> event metadata: price first, rich links, flat scalars; at most 10 keys. */
  function metadata(properties, richLinkProperties) {
    properties = isPlain(properties) ? properties : {};
    var result = {};
    var amount = price(properties.revenue, properties.currency);
    if (amount) result.price = amount;
    Object.keys(properties).forEach(function (key) {
      var value = properties[key];
      if (key === 'revenue' || key === 'currency' || key === 'email' || isEmpty(value)) return;
      if (richLinkProperties.indexOf(key) !== -1 && isPlain(value) && value.url && value.value) {
        result[cleanKey(key)] = { url: String(value.url), value: String(value.value).slice(0, MAX_STRING) };
        return;
      }
      var flat = scalars({ value: value }, []).value;
      if (flat === undefined) return;
      result[cleanKey(key)] = /_date$/.test(key) && unix(flat) !== undefined ? unix(flat) : flat;
    });
    var kept = {};
    Object.keys(result).slice(0, MAX_METADATA_KEYS).forEach(function (key) {
      kept[key] = result[key];
    });
    return kept;
  }

  /** The event name as Intercom stores it: `.` and `$` become `-`, cut at 255. */
  function eventName(name) {
    return String(name).trim().replace(/[.$]/g, '-').slice(0, MAX_STRING);
  }

  function isMissing(value) {
    return value === undefined || value === null;
  }

  function typeName(value) {
    return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  }

  /** A call that does not fit its signature is not sent (sending it would put wrong data on the user). */
  function refuse(method, reason) {
    if (root.console && typeof root.console.warn === 'function') {
      root.console.warn('IntercomDestination.' + method + ': ' + reason + '; nothing was sent');
    }
    return null;
  }

  function finish(callback) {
    if (typeof callback === 'function') callback();
  }

  /**
   * identify / group arguments, read as analytics.js reads them: ([id], [traits], [options], [callback]),
   * where the id (a string or a number) may be left out and a function is always the last argument.
   */
  function userArguments(method, idName, args) {
    var result = { id: undefined, traits: {}, options: {}, callback: undefined };
    var slots = [idName, 'traits', 'options'];
    var slot = 0;
    for (var i = 0; i < args.length; i++) {
      var arg = args[i];
      if (typeof arg === 'function') {
        if (i !== args.length - 1) return refuse(method, 'the callback must be the last argument');
        result.callback = arg;
        break;
      }
      if (slot === 0 && (typeof arg === 'string' || (typeof arg === 'number' && isFinite(arg)))) {
        result.id = text(arg);
        slot = 1;
        continue;
      }
      if (slot === 0 && isPlain(arg)) slot = 1;
      if (slot >= slots.length) return refuse(method, 'takes at most ' + idName + ', traits, options and a callback');
      if (!isMissing(arg) && !isPlain(arg)) {
        var expected = slot === 0 ? 'a string or a number' : 'an object';
        return refuse(method, slots[slot] + ' must be ' + expected + ', not ' + typeName(arg));
      }
      if (!isMissing(arg)) result[slot === 1 ? 'traits' : 'options'] = arg;
      slot += 1;
    }
    return result;
  }

  /** page arguments as analytics.js reads them: up to two strings (category, name), then properties, options. */
  function pageArguments(args) {
    var strings = 0;
    var objects = [];
    var callback;
    for (var i = 0; i < args.length; i++) {
      var arg = args[i];
      if (typeof arg === 'function') callback = arg;
      else if (typeof arg === 'string') strings += 1;
      else if (isPlain(arg)) objects.push(arg);
      else if (!isMissing(arg)) return refuse('page', 'argument ' + (i + 1) + ' must be a string or an object, not ' + typeName(arg));
    }
    if (strings > 2 || objects.length > 2) return refuse('page', 'takes [category], [name], [properties], [options]');
    // One object is the properties, unless it stands in the options' place (page(category, name, null, options)).
    var options = objects.length === 2 ? objects[1] : objects.length === 1 && args[3] === objects[0] ? objects[0] : {};
    return { options: options, callback: callback };
  }

  /** track arguments as analytics.js reads them: (event, [properties], [options], [callback]) or ({event, properties}, [options]). */
  function trackArguments(args) {
    var rest = Array.prototype.slice.call(args, 1);
    var name = args[0];
    var properties = rest.shift();
    if (isPlain(name)) {
      rest.unshift(properties);
      properties = name.properties;
      name = name.event;
    }
    if (typeof name !== 'string' || !name.trim()) return refuse('track', 'the event name is required (a string)');
    var options = rest[0];
    var callback = [properties, options, rest[1]].filter(function (arg) {
      return typeof arg === 'function';
    })[0];
    if (typeof properties === 'function') properties = undefined;
    if (typeof options === 'function') options = undefined;
    if (!isMissing(properties) && !isPlain(properties)) return refuse('track', 'properties must be an object, not ' + typeName(properties));
    if (!isMissing(options) && !isPlain(options)) return refuse('track', 'options must be an object, not ' + typeName(options));
    return { name: name, properties: properties || {}, options: options || {}, callback: callback };
  }

  /**
   * The Api Base setting: a documented region, or an https URL (never http, never a bare host, so a
   * typo cannot send the Messenger to a page of someone else's).
   * @param {unknown} value
   * @returns {string}
   */
  function apiBase(value) {
    var base = text(value) || 'US';
    if (API_BASES[base.toUpperCase()]) return API_BASES[base.toUpperCase()];
    if (/^https:\/\/[a-z0-9.-]+(:\d+)?(\/[^\s]*)?$/i.test(base)) return base.replace(/\/+$/, '');
    throw new Error("IntercomDestination: apiBase must be 'US', 'EU', 'AU' or an https URL");
  }

  /**
   * @param {Settings} settings
   */
  function Destination(settings) {
    if (!settings || !text(settings.appId)) throw new Error('IntercomDestination: appId is required');
    this.appId = text(settings.appId);
    this.activator = text(settings.activator) || DEFAULT_ACTIVATOR;
    this.richLinkProperties = Array.isArray(settings.richLinkProperties) ? settings.richLinkProperties : [];
    this.apiBase = apiBase(settings.apiBase);
    this.loaded = false;
  }

  /** Load the Messenger once; calls made before it arrives wait in Intercom's own queue (Intercom.q). */
  Destination.prototype.load = function () {
    if (this.loaded) return this;
    var w = root;
    if (typeof w.Intercom !== 'function') {
      var queue = function () {
        queue.c(arguments);
      };
      queue.q = [];
      queue.c = function (args) {
        queue.q.push(args);
      };
      w.Intercom = queue;
      var script = w.document.createElement('script');
      script.async = true;
      script.src = WIDGET_URL + encodeURIComponent(this.appId);
      w.document.head.appendChild(script);
    }
    this.loaded = true;
    this.boot();
    return this;
  };

  Destination.prototype.bootSettings = function () {
    var settings = { app_id: this.appId, api_base: this.apiBase };
    if (this.activator !== DEFAULT_ACTIVATOR) {
      settings.custom_launcher_selector = this.activator;
      settings.hide_default_launcher = true;
    }
    return settings;
  };

  Destination.prototype.boot = function () {
    this.call('boot', this.bootSettings());
  };

  Destination.prototype.call = function () {
    root.Intercom.apply(null, arguments);
  };

  /** identify and page, resolved: the user fields (page adds the time, so Intercom refreshes the Messenger). */
  Destination.prototype.sendUser = function (userId, traits, integrations, isPage) {
    if (!allowed(integrations)) return;
    var fields = user(userId, traits, integrations);
    if (isPage) fields.last_request_at = Math.floor(Date.now() / 1000);
    this.call('update', fields);
  };

  Destination.prototype.sendGroup = function (userId, groupId, traits, integrations) {
    if (!allowed(integrations)) return;
    var fields = user(userId, {}, integrations);
    fields.company = company(groupId, traits);
    this.call('update', fields);
  };

  Destination.prototype.sendTrack = function (name, properties, integrations) {
    if (!allowed(integrations)) return;
    this.call('trackEvent', eventName(name), metadata(properties, this.richLinkProperties));
  };

  /** identify([userId], [traits], [options], [callback]), as analytics.js reads it. */
  Destination.prototype.identify = function () {
    var args = userArguments('identify', 'userId', arguments);
    if (!args) return;
    this.sendUser(args.id, args.traits, args.options.integrations, false);
    finish(args.callback);
  };

  /** page([category], [name], [properties], [options], [callback]): refreshes the Messenger; names are not sent. */
  Destination.prototype.page = function () {
    var args = pageArguments(arguments);
    if (!args) return;
    this.sendUser(undefined, {}, args.options.integrations, true);
    finish(args.callback);
  };

  /** group(groupId, [traits], [options], [callback]): the company is attached to the Messenger's user. */
  Destination.prototype.group = function () {
    var args = userArguments('group', 'groupId', arguments);
    if (!args) return;
    if (args.id === undefined) return refuse('group', 'groupId is required (a string or a number)');
    this.sendGroup(undefined, args.id, args.traits, args.options.integrations);
    finish(args.callback);
  };

  /** track(event, [properties], [options], [callback]); event may also be {event, properties}. */
  Destination.prototype.track = function () {
    var args = trackArguments(arguments);
    if (!args) return;
    this.sendTrack(args.name, args.properties, args.options.integrations);
    finish(args.callback);
  };

  /** Logout: end the Messenger session, then boot a fresh anonymous one. */
  Destination.prototype.reset = function () {
    this.call('shutdown');
    this.boot();
  };

  /** An analytics-next destination plugin (also @customerio/cdp-analytics-browser). */
  function plugin(settings) {
    var destination = new Destination(settings);
    function handler(method) {
      return function (ctx) {
        var event = ctx.event;
        var context = event.context || {};
        var integrations = event.integrations;
        if (method === 'identify') destination.sendUser(event.userId, event.traits, integrations, false);
        if (method === 'page') destination.sendUser(event.userId, context.traits, integrations, true);
        if (method === 'group') destination.sendGroup(event.userId, event.groupId, event.traits, integrations);
        if (method === 'track') destination.sendTrack(event.event, event.properties, integrations);
        return ctx;
      };
    }
    return {
      name: 'Intercom Web (intercom-destination)',
      type: 'destination',
      version: VERSION,
      isLoaded: function () {
        return destination.loaded;
      },
      load: function (ctx, analytics) {
        destination.load();
        if (analytics && typeof analytics.on === 'function') {
          analytics.on('reset', function () {
            destination.reset();
          });
        }
        return Promise.resolve(ctx);
      },
      identify: handler('identify'),
      page: handler('page'),
      group: handler('group'),
      track: handler('track'),
      alias: function (ctx) {
        return ctx;
      },
      screen: function (ctx) {
        return ctx;
      }
    };
  }

  root.IntercomDestination = {
    version: VERSION,
    /** @param {Settings} settings */
    load: function (settings) {
      return new Destination(settings).load();
    },
    plugin: plugin,
    /** The pure mappings, for tests and for anyone calling Intercom themselves. */
    mapping: { user: user, company: company, metadata: metadata, price: price, eventName: eventName, allowed: allowed }
  };
})(typeof window !== 'undefined' ? window : this);

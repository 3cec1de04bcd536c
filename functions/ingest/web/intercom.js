/**
 * intercom-destination, web mode: loads Intercom's Messenger and maps analytics calls made in the page to
 * the Messenger's JavaScript API. Dependency-free; served at GET /v1/web/intercom.js, or use the file.
 *
 *   identify, page -> Intercom('update', user)          group -> Intercom('update', {company})
 *   track          -> Intercom('trackEvent', name, metadata)   reset -> Intercom('shutdown') + boot
 *
 * Standalone:  var intercom = IntercomDestination.load({appId: 'abc123'}); intercom.identify('u1', {...});
 * As a plugin: analytics.register(IntercomDestination.plugin({appId: 'abc123'}))   (analytics-next, and
 *              @customerio/cdp-analytics-browser, which shares its plugin interface)
 *
 * The field rules match cloud mode's (layers/shared/python/intercom_destination/mapping): the same traits
 * give the same Intercom fields, except that nested objects and arrays are dropped here, not flattened.
 */
(function (root) {
  'use strict';

  var VERSION = '1.1.0';
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

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
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
    Object.keys(values || {}).forEach(function (key) {
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
      if (isObject(flags[NAMES[i]])) return flags[NAMES[i]];
    }
    return {};
  }

  /** group traits (or an identify's traits.company) -> the Messenger's company object. */
  function company(companyId, traits) {
    traits = traits || {};
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
    traits = traits || {};
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
    if (isObject(traits.company)) {
      result.company = company(first(traits.company, ['id', 'company_id']), traits.company);
    }
    if (Array.isArray(traits.companies)) {
      result.companies = traits.companies.filter(isObject).map(function (item) {
        return company(first(item, ['id', 'company_id']), item);
      });
    }
    return assign(result, scalars(traits, USER_TRAITS));
  }

  /** track properties -> event metadata: price first, rich links, flat scalars; at most 10 keys. */
  function metadata(properties, richLinkProperties) {
    properties = properties || {};
    var result = {};
    var amount = price(properties.revenue, properties.currency);
    if (amount) result.price = amount;
    Object.keys(properties).forEach(function (key) {
      var value = properties[key];
      if (key === 'revenue' || key === 'currency' || key === 'email' || isEmpty(value)) return;
      if (richLinkProperties.indexOf(key) !== -1 && isObject(value) && value.url && value.value) {
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

  /** @param {string|undefined} userId  @param {Object} [traits]  @param {{integrations?: Object}} [options] */
  Destination.prototype.identify = function (userId, traits, options) {
    var integrations = (options || {}).integrations;
    if (!allowed(integrations)) return;
    this.call('update', user(userId, traits, integrations));
  };

  /** A page view: the same user fields, and Intercom refreshes the Messenger (new messages, visitor state). */
  Destination.prototype.page = function (userId, traits, options) {
    var integrations = (options || {}).integrations;
    if (!allowed(integrations)) return;
    var fields = user(userId, traits, integrations);
    fields.last_request_at = Math.floor(Date.now() / 1000);
    this.call('update', fields);
  };

  Destination.prototype.group = function (groupId, traits, options) {
    var integrations = (options || {}).integrations;
    if (!allowed(integrations)) return;
    var fields = user((options || {}).userId, {}, integrations);
    fields.company = company(groupId, traits);
    this.call('update', fields);
  };

  Destination.prototype.track = function (event, properties, options) {
    if (!allowed((options || {}).integrations)) return;
    this.call('trackEvent', eventName(event), metadata(properties, this.richLinkProperties));
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
        var options = { integrations: event.integrations, userId: event.userId };
        if (method === 'identify') destination.identify(event.userId, event.traits, options);
        if (method === 'page') destination.page(event.userId, context.traits, options);
        if (method === 'group') destination.group(event.groupId, event.traits, options);
        if (method === 'track') destination.track(event.event, event.properties, options);
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
